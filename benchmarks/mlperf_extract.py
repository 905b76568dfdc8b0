r"""Rebuild the MLPerf Inference rows of ``published.csv`` from local copies of the results repositories.

    .venv/bin/python benchmarks/mlperf_extract.py SNAPSHOT [SNAPSHOT ...] [--write] [--csv OUT]

A SNAPSHOT is either a bare git directory of ``mlcommons/inference_results_vX.Y`` (read at HEAD,
as the search tool's ``fetch`` leaves it) or a plain directory holding the same paths, with a
``PROVENANCE`` file whose first line is ``mlcommons/inference_results_vX.Y@<commit>`` (used for
rounds too large to fetch whole: the files were copied one by one from that commit).

The rows shipped in ``published.csv`` were built with (the last two from ``fetch``; the first two
are partial copies, file by file, of rounds too large to fetch whole):

    .venv/bin/python benchmarks/mlperf_extract.py --write \
        /work/shared/data/mlperf-snapshots/inference_results_v4.0 \
        /work/shared/data/mlperf-snapshots/mlperf_inference_results_v5.0 \
        /work/.mirror/mlcommons+inference_results_v4.1/repo \
        /work/.mirror/mlcommons+inference_results_v5.1/repo

For every closed-division result of an LLM benchmark on a catalogued GPU (H100 SXM, H200 SXM,
B200, GB200, MI300X, MI325X) it reads ``results/<system>/<benchmark>/<scenario>/performance/run_1/
mlperf_log_summary.txt`` and ``systems/<system>.json`` and writes:

* Offline: ``scenario=offline``, metric ``output_tokens_per_s``.
* Server and Interactive: ``scenario=rate`` with ``load`` = the achieved Poisson rate (completed
  samples/s) and the measured ``output_tokens_per_s``, ``ttft_p99``, ``tpot_p99`` at that rate;
  and ``scenario=slo`` with metric ``max_requests_per_s`` and the run's own latency limits (the
  log's ``ttft_latency``/``tpot_latency`` test parameters) in the columns ``ttft_p99_ms`` and
  ``tpot_p99_ms``: the highest rate the system sustained within those p99 limits.

Split: rounds v4.0, v5.0 and earlier -> ``calibration`` (fitted); v4.1 and v5.1 -> ``holdout``
(never fitted, the held-out check). Results the planner cannot represent (pipeline parallelism,
beam search, preview/RDI systems, power-capped MaxQ systems, mixed-GPU systems, other engines)
are written with ``split=excluded`` and the reason in ``notes``.

``input_len`` is the dataset's mean prompt length (``/work/shared/research/mlperf-datasets.md``);
``output_len`` is the run's own mean generated length, tokens/s divided by samples/s.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mlperf_layouts import BENCHMARKS, HELD_OUT_ROUNDS, gpu_id, layout

OUT = Path(__file__).resolve().parents[1] / "src/onshore/planner/validation/data/published.csv"
SOURCE_PREFIX = "MLPERF:"
EXTRA_FIELDS = ["ttft_p99_ms", "tpot_p99_ms", "parallel"]
SUMMARY = re.compile(
    r"^closed/([^/]+)/results/([^/]+)/([^/]+)/(Offline|Server|Interactive)/performance/run_1/"
    r"mlperf_log_summary\.txt$"
)


class Snapshot:
    """Read files of one results repository, from a bare git dir or a plain directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.is_git = (path / "HEAD").exists() and (path / "objects").exists()
        if self.is_git:
            # fetch leaves /work/.mirror/<owner>+<name>/repo
            self.commit = self._git("rev-parse", "HEAD").strip()
            owner_name = next((p.name for p in (path, *path.parents) if "+" in p.name), path.name)
            self.repo = owner_name.replace("+", "/", 1)
        else:
            repo, _, commit = (path / "PROVENANCE").read_text().splitlines()[0].partition("@")
            self.repo, self.commit = repo.strip(), commit.strip()
        m = re.search(r"inference_results_(v\d+\.\d+)", self.repo)
        if not m:
            raise SystemExit(f"{path}: cannot tell the MLPerf round from {self.repo!r}")
        self.round = m.group(1)

    def _git(self, *args: str) -> str:
        return subprocess.run(
            ["git", f"--git-dir={self.path}", *args], check=True, capture_output=True, text=True
        ).stdout

    def files(self) -> list[str]:
        if self.is_git:
            return self._git("ls-tree", "-r", "--name-only", "HEAD").splitlines()
        return sorted(str(p.relative_to(self.path)) for p in self.path.rglob("*") if p.is_file())

    def system(self, rel: str) -> tuple[dict[str, object], str]:
        """A system description and where it came from: ``systems/<name>.json``, else (partial
        copies) the transcription in ``SYSTEMS.json``, else the little the name itself says."""
        text = self.read(rel)
        if text is not None:
            return json.loads(text), rel
        sidecar = self.read("SYSTEMS.json")
        entry = json.loads(sidecar).get(rel) if sidecar is not None else None
        if isinstance(entry, dict):
            return entry, f"SYSTEMS.json of the copy ({entry.get('_source', 'transcribed')})"
        return system_from_name(rel.rsplit("/", 1)[-1].removesuffix(".json")), "the system name"

    def read(self, rel: str) -> str | None:
        if self.is_git:
            git = ["git", f"--git-dir={self.path}", "show", f"HEAD:{rel}"]
            r = subprocess.run(git, check=False, capture_output=True, text=True)
            return r.stdout if r.returncode == 0 else None
        p = self.path / rel
        return p.read_text(encoding="utf-8", errors="replace") if p.is_file() else None


@dataclass(frozen=True, slots=True)
class Run:
    """The numbers of one ``mlperf_log_summary.txt``."""

    valid: bool
    samples_per_s: float
    tokens_per_s: float
    ttft_p99_ms: float | None
    tpot_p99_ms: float | None
    ttft_limit_ms: float | None
    tpot_limit_ms: float | None


def _num(text: str, label: str) -> float | None:
    m = re.search(rf"^{re.escape(label)}\s*:\s*([0-9.eE+-]+)", text, re.M)
    return float(m.group(1)) if m else None


def parse_summary(text: str) -> Run | None:
    samples = _num(text, "Samples per second") or _num(text, "Completed samples per second")
    tokens = _num(text, "Tokens per second") or _num(text, "Completed tokens per second")
    if not samples or not tokens:
        return None

    def ms(label: str) -> float | None:
        v = _num(text, label)
        return v / 1e6 if v is not None else None

    return Run(
        valid=bool(re.search(r"^Result is\s*:\s*VALID", text, re.M)),
        samples_per_s=samples,
        tokens_per_s=tokens,
        ttft_p99_ms=ms("99.00 percentile first token latency (ns)"),
        tpot_p99_ms=ms("99.00 percentile time to output token (ns)"),
        ttft_limit_ms=ms("ttft_latency (ns)"),
        tpot_limit_ms=ms("tpot_latency (ns)"),
    )


UNSTATED = "not stated"


def system_from_name(name: str) -> dict[str, object]:
    """The little a system directory name says, for copies lacking ``systems/<name>.json``.

    NVIDIA-style names spell the accelerator and count (``B200-SXM-180GBx8_TRT``); the ``_TRT``
    suffix is NVIDIA's TensorRT(-LLM) harness. Anything else stays unknown (and is excluded).
    """
    m = re.search(r"([A-Z0-9]+-SXM-\d+GB)x(\d+)", name)
    return {
        "accelerator_model_name": m.group(1) if m else "",
        "accelerators_per_node": int(m.group(2)) if m else 0,
        "number_of_nodes": 1,
        "framework": "TensorRT (from the system name)" if "_TRT" in name else "",
        "status": UNSTATED,
    }


def _engine(system: dict[str, object]) -> tuple[str, str]:
    sw = " ".join(str(system.get(k, "")) for k in ("framework", "other_software_stack", "sw_notes"))
    for needle, engine in (("sglang", "sglang"), ("vllm", "vllm"), ("tensorrt", "trtllm")):
        if needle in sw.lower():
            return engine, str(system.get("framework", "")).replace(",", ";")[:80]
    return "", str(system.get("framework", "")).replace(",", ";")[:80]


def metric_rows(base: dict[str, str], scenario: str, run: Run) -> list[dict[str, str]]:
    """The published.csv rows of one result: Offline throughput, or Server/Interactive rate + SLO."""

    def row(kind: str, load: str, metric: str, value: float, unit: str, **extra: str) -> dict[str, str]:
        cells = {"scenario": kind, "load": load, "metric": metric, "value": f"{value:.6g}", "unit": unit}
        return base | cells | extra

    if scenario == "Offline":
        return [row("offline", "", "output_tokens_per_s", run.tokens_per_s, "tok/s/system")]
    rate = f"{run.samples_per_s:.6g}"
    out = [row("rate", rate, "output_tokens_per_s", run.tokens_per_s, "tok/s/system")]
    if run.ttft_p99_ms is not None:
        out.append(row("rate", rate, "ttft_p99", run.ttft_p99_ms, "ms"))
    if run.tpot_p99_ms is not None:
        out.append(row("rate", rate, "tpot_p99", run.tpot_p99_ms, "ms"))
    if run.ttft_limit_ms and run.tpot_limit_ms:
        limits = {"ttft_p99_ms": f"{run.ttft_limit_ms:g}", "tpot_p99_ms": f"{run.tpot_limit_ms:g}"}
        out.append(row("slo", "", "max_requests_per_s", run.samples_per_s, "req/s/system", **limits))
    return out


def exclusion_reasons(
    system_name: str, status: str, run: Run, lay_excluded: str, tp: int, gpus: int
) -> list[str]:
    reasons = []
    if status not in ("available", UNSTATED):
        reasons.append(f"system status {status or 'unknown'} (not available)")
    if "maxq" in system_name.lower():
        reasons.append("power-capped MaxQ system")
    if not run.valid:
        reasons.append("result not VALID")
    if lay_excluded:
        reasons.append(lay_excluded)
    if gpus < 1 or gpus % tp:
        reasons.append(f"{gpus} GPUs not a multiple of TP {tp}")
    return reasons


def rows_for(snap: Snapshot) -> list[dict[str, str]]:
    """Every row of one results repository (see the module docstring for what is kept)."""
    out: list[dict[str, str]] = []
    held_out = snap.round in HELD_OUT_ROUNDS
    for rel in snap.files():
        m = SUMMARY.match(rel)
        if not m or m.group(3) not in BENCHMARKS:
            continue
        submitter, system_name, bench, scenario = m.groups()
        text = snap.read(rel)
        run = parse_summary(text) if text is not None else None
        if run is None:
            continue
        system, system_source = snap.system(f"closed/{submitter}/systems/{system_name}.json")
        gpu = gpu_id(str(system.get("accelerator_model_name", "")))
        if gpu is None:
            continue  # not a catalogued GPU (L40S, GH200, H100 PCIe/NVL, B300, MI355X, CPUs)
        engine, version = _engine(system)
        info = BENCHMARKS[bench]
        lay = layout(engine, str(system.get("framework", "")), gpu, bench, scenario, snap.round)
        gpus = int(system.get("accelerators_per_node") or 0) * int(system.get("number_of_nodes") or 1)
        status = str(system.get("status", "")).lower()
        reasons = exclusion_reasons(system_name, status, run, lay.excluded, lay.tp, gpus)
        split = "excluded" if reasons else ("holdout" if held_out else "calibration")
        note = "; ".join(
            [
                f"MLPerf {snap.round} held out (never fitted)"
                if held_out
                else f"MLPerf {snap.round} (fit round)",
                f"{submitter} {scenario}",
                f"system {system_source} ({system.get('accelerator_model_name', '')} x{gpus})",
                lay.source,
                f"input_len = dataset mean ({info.dataset})",
                "output_len = tokens/s / samples/s of this run",
            ]
        )
        if not snap.repo.startswith("mlcommons/"):
            note += f"; read from {snap.repo}, a fork of MLCommons' results repository"
        if status == UNSTATED:
            note += (
                "; the system description is not in the stored copy: GPU type and count read from the"
                " system name, TensorRT-LLM from its _TRT suffix, availability not verified"
            )
        if reasons:
            note = "excluded: " + "; ".join(reasons) + "; " + note
        base = {
            "source_id": f"{SOURCE_PREFIX}{snap.round}:closed/{submitter}/{system_name}/{bench}/{scenario}",
            "source": f"https://github.com/{snap.repo}@{snap.commit} {rel}",
            "engine": engine or "unknown",
            "engine_version": version,
            "model": info.model,
            "gpu": gpu,
            "num_gpus": str(gpus),
            "tensor_parallel": str(lay.tp),
            "precision": lay.precision,
            "input_len": str(info.input_len),
            "output_len": f"{run.tokens_per_s / run.samples_per_s:.0f}",
            "split": split,
            "notes": note.replace("\n", " "),
            "ttft_p99_ms": "",
            "tpot_p99_ms": "",
            "parallel": lay.parallel,
        }
        out.extend(metric_rows(base, scenario, run))
    return out


def merge(text: str, new_rows: list[dict[str, str]]) -> str:
    """``published.csv`` with every earlier MLPerf row replaced by ``new_rows`` (appended at the end).

    Other rows are kept byte for byte (one record per line): the limit columns are optional, and
    rows written before they existed simply end early (``dataset.py`` reads a missing cell as empty).
    """
    lines = text.splitlines(keepends=True)
    fields = next(csv.reader([lines[0]]))
    header = lines[0]
    if missing := [f for f in EXTRA_FIELDS if f not in fields]:
        header = header.rstrip("\r\n") + "," + ",".join(missing) + "\r\n"
        fields += missing
    kept = [line for line in lines[1:] if not line.startswith(SOURCE_PREFIX)]
    buf = io.StringIO()
    csv.DictWriter(buf, fields, restval="", lineterminator="\r\n").writerows(new_rows)
    return header + "".join(kept) + buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("snapshots", nargs="+", type=Path)
    parser.add_argument("--write", action="store_true", help=f"replace the MLPerf rows of {OUT}")
    parser.add_argument("--csv", type=Path, default=None, help="also write only the MLPerf rows here")
    args = parser.parse_args()
    rows: list[dict[str, str]] = []
    for path in args.snapshots:
        snap = Snapshot(path)
        got = rows_for(snap)
        print(f"{snap.repo}@{snap.commit[:10]} ({snap.round}): {len(got)} rows", file=sys.stderr)
        rows += got
    counts = Counter((r["source_id"].split(":")[1], r["model"], r["gpu"], r["split"]) for r in rows)
    for key, n in sorted(counts.items()):
        print(" ".join(key), n, file=sys.stderr)
    if args.csv:
        with args.csv.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, list(rows[0]) if rows else [], extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
    if args.write:
        with OUT.open(encoding="utf-8", newline="") as fh:  # keep the CRLF records byte for byte
            merged = merge(fh.read(), rows)
        OUT.write_text(merged, encoding="utf-8", newline="")
        print(f"wrote {len(rows)} MLPerf rows into {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
