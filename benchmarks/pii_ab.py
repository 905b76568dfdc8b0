"""Throughput of two versions of ``onshore.pii`` side by side, alternating, on the same prompts.

    git worktree add /tmp/pii-before <commit>   # or: git archive <commit> src | tar -x -C /tmp/pii-before
    taskset -c 1 python benchmarks/pii_ab.py --before /tmp/pii-before/src [--after src] [--rounds 5]

The machine is shared, so a "before" run on Monday and an "after" run on Tuesday compare two
machines. This script runs each version in its own process (so each imports its own
``onshore.pii``), alternating before/after for ``--rounds`` rounds on the prompts of
``pii_bench.py`` (200 B, 4 KB, 64 KB and 4 KB without personal data), and reports the best CPU-time
MB/s of each version and the ratio after/before. CPU time, not wall clock: it does not count the
time the process waited for a core that another engineer's job held.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

_CHILD = """
import json, sys, time
sys.path.insert(0, {src!r})
sys.path.insert(1, {bench!r})
import onshore.pii
assert onshore.pii.__file__.startswith({src!r}), onshore.pii.__file__
from pii_bench import SIZES, make_prompts, throughput
from onshore.pii import Detector
detector = Detector()
out = {{}}
for label, size in SIZES.items():
    prompts = make_prompts(size, {nbytes}, seed=size)
    out[label] = throughput(detector.scan, prompts, {repeat})[1]
clean = make_prompts(4096, {nbytes}, seed=7, pii_share=0.0)
out["4 KB, no personal data"] = throughput(detector.scan, clean, {repeat})[1]
print(json.dumps(out))
"""


def run_version(src: Path, nbytes: int, repeat: int) -> dict[str, float]:
    """CPU-time MB/s per prompt size of the ``onshore.pii`` under ``src`` (one fresh process)."""
    code = _CHILD.format(src=str(src.resolve()), bench=str(HERE), nbytes=nbytes, repeat=repeat)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="src directory of the old version")
    parser.add_argument("--after", type=Path, default=ROOT / "src", help="src directory of the new version")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--mb", type=float, default=0.5, help="MB of prompts per size")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many passes per process")
    args = parser.parse_args(argv)

    print(f"load average before: {Path('/proc/loadavg').read_text().split()[:3]}")
    best: dict[str, dict[str, float]] = {"before": {}, "after": {}}
    for index in range(args.rounds):
        order = ("before", "after") if index % 2 == 0 else ("after", "before")
        for name in order:
            src = args.before if name == "before" else args.after
            for label, mbs in run_version(src, int(args.mb * 1e6), args.repeat).items():
                best[name][label] = max(best[name].get(label, 0.0), mbs)
        print(
            f"round {index + 1}: "
            + ", ".join(f"{k} {best['after'][k] / best['before'][k]:.2f}x" for k in best["after"])
        )
    print("\nbest CPU-time MB/s of each version over all rounds")
    print("| prompts | before MB/s | after MB/s | after / before |")
    print("|---|---|---|---|")
    for label in best["before"]:
        old, new = best["before"][label], best["after"][label]
        print(f"| {label} | {old:.1f} | {new:.1f} | {new / old:.2f}x |")
    print(f"\nload average after: {Path('/proc/loadavg').read_text().split()[:3]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
