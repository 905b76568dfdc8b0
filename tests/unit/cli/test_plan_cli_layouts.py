"""``onshore plan`` with attention-DP + expert-parallel layouts (the ``parallel`` column, ``--layouts``)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from onshore.cli.plan import plan

HEADER = "model,gpu,num_gpus,tensor_parallel,precision,input_len,output_len,scenario,load,requests,parallel\n"


def test_predict_echoes_the_layout(tmp_path: Path) -> None:
    csv = tmp_path / "s.csv"
    csv.write_text(
        HEADER + "qwen3-30b-a3b,h100,2,2,fp8,512,128,offline,,200,\n"
        "qwen3-30b-a3b,h100,2,2,fp8,512,128,offline,,200,dp_attention_ep\n"
    )
    out = CliRunner().invoke(plan, ["predict", "--scenarios", str(csv), "--json"])
    assert out.exit_code == 0, out.output
    tp, dp = json.loads(out.output)
    assert "parallel" not in tp  # tp rows echo what they always did
    assert dp["parallel"] == "dp-ep" and dp["output_tokens_per_s"] > 0
    table = CliRunner().invoke(plan, ["predict", "--scenarios", str(csv)])
    assert table.exit_code == 0 and "DP2-EP2" in table.output


def test_size_refuses_dp_ep_for_a_dense_model() -> None:
    args = ["size", "--model", "llama-3.1-8b", "--gpus", "h100", "--tp", "2", "--precision", "fp8"]
    out = CliRunner().invoke(plan, [*args, "--layouts", "tp,dp-ep", "--executor", "serial"])
    assert out.exit_code != 0
    assert "llama-3.1-8b is dense: search --layouts tp" in out.output
    assert "Traceback" not in out.output
    bad = CliRunner().invoke(plan, [*args, "--layouts", "pipeline", "--executor", "serial"])
    assert bad.exit_code != 0 and "is not tp or dp_attention_ep" in bad.output
