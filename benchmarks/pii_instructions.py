"""Instructions per byte of two versions of ``onshore.pii`` on the pii_bench prompts (valgrind).

    git worktree add /tmp/pii-before <commit>   # or: git archive <commit> src | tar -x -C /tmp/pii-before
    python benchmarks/pii_instructions.py --before /tmp/pii-before/src [--after src] [--kb 100]

Wall clock on a shared machine moves by 2x with other people's jobs; an instruction count does
not. Each version scans the same prompts (200 B, 4 KB and 64 KB, ``--kb`` kilobytes of each) under
``valgrind --tool=cachegrind`` once with one pass and once with three; the difference over two
passes, per byte, leaves out start-up, imports and building the prompts. Instructions are not time
(cache misses, branch mispredictions), but for the same Python code on the same interpreter the
ratio follows the wall-clock ratio measured interleaved (``pii_ab.py``) within a few percent.
Needs ``valgrind`` on the PATH; takes about a minute per version and size.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SIZES = {"200 B": 200, "4 KB": 4096, "64 KB": 65536}

_CHILD = """
import sys
sys.path.insert(0, {src!r})
sys.path.insert(1, {bench!r})
import onshore.pii
assert onshore.pii.__file__.startswith({src!r}), onshore.pii.__file__
from pii_bench import make_prompts
from onshore.pii import Detector
detector = Detector()
prompts = make_prompts({size}, {nbytes}, seed={size})
detector.scan(prompts[0])
for _ in range({passes}):
    for prompt in prompts:
        detector.scan(prompt)
"""
_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def instructions(src: Path, size: int, nbytes: int, passes: int) -> int:
    """Instructions executed by a fresh interpreter that scans the prompts ``passes`` times."""
    code = _CHILD.format(src=str(src.resolve()), bench=str(HERE), size=size, nbytes=nbytes, passes=passes)
    valgrind = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
    command = [*valgrind, sys.executable, "-c", code]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    found = _REFS.search(result.stderr)
    if found is None:
        raise RuntimeError(result.stderr[-2000:])
    return int(found.group(1).replace(",", ""))


def per_byte(src: Path, size: int, nbytes: int) -> float:
    """Instructions per byte of one scan pass (three passes minus one, over two)."""
    return (instructions(src, size, nbytes, 3) - instructions(src, size, nbytes, 1)) / 2 / nbytes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="src directory of the old version")
    parser.add_argument("--after", type=Path, default=ROOT / "src", help="src directory of the new version")
    parser.add_argument("--kb", type=int, default=100, help="kilobytes of prompts per size")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 1
    nbytes = args.kb * 1000
    print("| prompts | before instr/byte | after instr/byte | before / after |")
    print("|---|---|---|---|")
    for label, size in SIZES.items():
        old, new = per_byte(args.before, size, nbytes), per_byte(args.after, size, nbytes)
        print(f"| {label} | {old:.0f} | {new:.0f} | {old / new:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
