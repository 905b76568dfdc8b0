"""``onshore pii scan`` driven through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import click
from click.testing import CliRunner

from onshore.cli.pii import pii

TEXT = "주민번호 900101-1234568, 연락처 010-1234-5678로 주세요"


def test_group_shape() -> None:
    assert isinstance(pii, click.Group)
    assert "scan" in pii.commands


def test_human_output_from_stdin() -> None:
    result = CliRunner().invoke(pii, ["scan"], input=TEXT)
    assert result.exit_code == 0, result.output
    assert "KR_RRN" in result.output
    assert "KR_PHONE" in result.output
    assert "2 finding(s)" in result.output


def test_human_output_when_nothing_found() -> None:
    result = CliRunner().invoke(pii, ["scan", "-"], input="2024-01-15 가격 12,000원")
    assert result.exit_code == 0
    assert "no personal data found" in result.output


def test_json_output(tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    path.write_text(TEXT, encoding="utf-8")
    result = CliRunner().invoke(pii, ["scan", str(path), "--json"])
    assert result.exit_code == 0, result.output
    findings = json.loads(result.output)
    assert [f["type"] for f in findings] == ["KR_RRN", "KR_PHONE"]
    assert set(findings[0]) == {"type", "start", "end", "confidence"}
    assert TEXT[findings[0]["start"] : findings[0]["end"]] == "900101-1234568"


def test_jsonl_round_trip() -> None:
    lines = [{"id": 1, "text": TEXT}, {"id": "b", "text": "없음"}, {"id": None, "text": "hong@naver.com으로"}]
    stdin = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n\n"
    result = CliRunner().invoke(pii, ["scan", "--jsonl"], input=stdin)
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.output.splitlines()]
    assert [o["id"] for o in out] == [1, "b", None]
    assert len(out[0]["findings"]) == 2
    assert out[1]["findings"] == []
    assert out[2]["findings"][0]["type"] == "EMAIL"


def test_type_and_confidence_filters() -> None:
    result = CliRunner().invoke(pii, ["scan", "--json", "--type", "kr_phone"], input=TEXT)
    assert [f["type"] for f in json.loads(result.output)] == ["KR_PHONE"]
    result = CliRunner().invoke(pii, ["scan", "--json", "--min-confidence", "0.99"], input=TEXT)
    assert json.loads(result.output) == []


def test_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(pii, ["scan", str(tmp_path / "nope.txt")])
    assert result.exit_code == 1
    assert result.output.strip().startswith("error: cannot read")
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_bad_jsonl_line_is_a_one_line_error() -> None:
    result = CliRunner().invoke(pii, ["scan", "--jsonl"], input='{"id": 1, "text": "ok"}\nnot json\n')
    assert result.exit_code == 1
    assert "error: line 2: not valid JSON" in result.output
    result = CliRunner().invoke(pii, ["scan", "--jsonl"], input='{"text": 5}\n')
    assert result.exit_code == 1
    assert 'expected an object with "id"' in result.output


def test_bad_arguments() -> None:
    assert CliRunner().invoke(pii, ["scan", "--json", "--jsonl"], input="").exit_code == 2
    assert CliRunner().invoke(pii, ["scan", "--type", "NOPE"], input="").exit_code == 2


def test_invalid_utf8_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"\xff\xfe\xfa")
    result = CliRunner().invoke(pii, ["scan", str(path)])
    assert result.exit_code == 1
    assert "not valid UTF-8" in result.output


def test_reachable_through_the_root_cli() -> None:
    from onshore.cli.main import cli

    result = CliRunner().invoke(cli, ["pii", "scan", "--json"], input=TEXT)
    assert result.exit_code == 0, result.output
    assert [f["type"] for f in json.loads(result.output)] == ["KR_RRN", "KR_PHONE"]
