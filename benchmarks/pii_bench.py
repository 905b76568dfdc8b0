"""Throughput and latency of Onshore's PII detector on mixed Korean/English text, Presidio beside it.

    taskset -c 1 python benchmarks/pii_bench.py [--mb 1.0] [--presidio-mb 0.25] [--no-presidio]

Prompts of 200 B, 4 KB and 64 KB (UTF-8) are assembled deterministically from ordinary Korean and
English sentences full of dates, prices, times and order numbers, with about 15% of sentences
taken from the labelled corpus (so they carry identifiers). Throughput is UTF-8 megabytes per
second on one core (pin it with ``taskset``); latency is per 4 KB prompt. Presidio runs offline
with pattern recognizers and Korea in its phone regions (``pii_presidio.py``), on a smaller
sample because it is slow. Prints the load average before and after: compare numbers only
between runs on a quiet machine, or compare two versions side by side with ``pii_ab.py`` (wall
clock, alternating processes) and ``pii_instructions.py`` (instruction counts, deterministic).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pii_presidio import build_or_explain

from onshore.pii import Detector, redact

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "pii" / "corpus.jsonl"
SIZES = {"200 B": 200, "4 KB": 4096, "64 KB": 65536}

FILLER = [
    "안녕하세요, 지난주에 주문한 상품이 아직 도착하지 않아서 문의드립니다.",
    "회의는 2024년 3월 15일 오후 2시 30분에 본사 12층 대회의실에서 진행됩니다.",
    "이번 분기 매출은 1,234,567,000원으로 전년 대비 12.5% 증가했습니다.",
    "배송은 보통 2~3일 정도 걸리며, 제주 지역은 추가로 1일이 더 소요됩니다.",
    "고객님께서 요청하신 환불은 영업일 기준 3일 이내에 처리될 예정입니다.",
    "새 버전 2.14.3에서는 로그인 오류가 수정되었고 속도가 30% 개선되었습니다.",
    "이 문서를 세 문단으로 요약하고, 핵심 내용을 표로 정리해 주세요.",
    "주문번호 20240315-000123 상품은 현재 물류센터에서 출고 대기 중입니다.",
    "오늘 서울의 최고 기온은 18도, 최저 기온은 7도로 예상됩니다.",
    "The quarterly report is due on 2024-04-01, please send your numbers by Friday.",
    "Our API handles about 12,000 requests per second with a p99 latency of 85 ms.",
    "Please translate the following paragraph into formal Korean for the customer.",
    "Version 3.2.1 fixes the memory leak reported in ticket #4821 last month.",
    "The meeting moved to 10:30 in room 401; bring the Q1 budget spreadsheet.",
    "Summarise the attached contract and list every obligation with its deadline.",
    "Shipping costs $12.50 for orders under $50 and is free above that amount.",
    "모델 학습에는 A100 8장으로 약 72시간이 걸렸고 배치 크기는 256이었습니다.",
    "Can you explain the difference between TCP and UDP in simple terms?",
]


def _pii_sentences() -> list[str]:
    with CORPUS.open(encoding="utf-8") as fh:
        return [json.loads(line)["text"] for line in fh if not json.loads(line)["negative"]]


def make_prompts(size: int, total: int, seed: int, pii_share: float = 0.15) -> list[str]:
    """Prompts of about ``size`` UTF-8 bytes, ``total`` bytes in all, ``pii_share`` PII sentences."""
    rng = random.Random(seed)
    pii = _pii_sentences()
    prompts = []
    produced = 0
    while produced < total:
        parts: list[str] = []
        nbytes = 0
        while nbytes < size:
            sentence = rng.choice(pii) if rng.random() < pii_share else rng.choice(FILLER)
            parts.append(sentence)
            nbytes += len(sentence.encode()) + 1
        text = " ".join(parts)
        text = text.encode()[:size].decode(errors="ignore")
        prompts.append(text)
        produced += len(text.encode())
    return prompts


def throughput(scan: Callable[[str], object], prompts: list[str], repeat: int) -> tuple[float, float]:
    """Best-of-``repeat`` MB/s over all prompts: (wall clock, CPU time of this process).

    On a shared machine the CPU-time figure is the steadier one: it does not count the time the
    process waited for the core.
    """
    nbytes = sum(len(p.encode()) for p in prompts)
    wall = cpu = float("inf")
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        for prompt in prompts:
            scan(prompt)
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return nbytes / wall / 1e6, nbytes / cpu / 1e6


def latencies(scan: Callable[[str], object], prompts: list[str]) -> tuple[float, float]:
    """p50 and p99 milliseconds per prompt."""
    times = []
    for prompt in prompts:
        start = time.perf_counter_ns()
        scan(prompt)
        times.append((time.perf_counter_ns() - start) / 1e6)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def streamed(detector: Detector, chunk: int) -> Callable[[str], object]:
    def scan(text: str) -> object:
        scanner = detector.stream()
        out = []
        for i in range(0, len(text), chunk):
            out.extend(scanner.feed(text[i : i + chunk]))
        out.extend(scanner.close())
        return out

    return scan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=1.0, help="MB of prompts per size for Onshore")
    parser.add_argument("--presidio-mb", type=float, default=0.25, help="MB of prompts per size for Presidio")
    parser.add_argument("--no-presidio", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    print(f"load average before: {Path('/proc/loadavg').read_text().split()[:3]}")
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "n/a"
    machine = platform.processor() or platform.machine()
    print(f"python {platform.python_version()}, cpu affinity {affinity}, {machine}")
    detector = Detector()
    analyze = None if args.no_presidio else build_or_explain()
    rows: list[tuple[str, tuple[float, float], tuple[float, float] | None]] = []
    for label, size in SIZES.items():
        prompts = make_prompts(size, int(args.mb * 1e6), seed=size)
        ours = throughput(detector.scan, prompts, args.repeat)
        theirs = None
        if analyze is not None:
            sample = make_prompts(size, int(args.presidio_mb * 1e6), seed=size)
            theirs = throughput(analyze, sample, 1)
        rows.append((label, ours, theirs))
    four_kb = make_prompts(4096, int(args.mb * 1e6), seed=4096)
    clean = make_prompts(4096, int(args.mb * 1e6), seed=7, pii_share=0.0)
    rows.append(("4 KB, no personal data", throughput(detector.scan, clean, args.repeat), None))
    for chunk in (4, 64):  # token-sized deltas and larger network reads; the scanner batches 64 characters
        stream_mbs = throughput(streamed(detector, chunk), four_kb, args.repeat)
        rows.append((f"4 KB, streamed in {chunk}-character chunks", stream_mbs, None))
    ours_lat = latencies(detector.scan, four_kb)
    redact_lat = latencies(lambda text: redact(text, detector.scan(text)), four_kb)
    theirs_lat = None
    if analyze is not None:
        theirs_lat = latencies(analyze, make_prompts(4096, int(args.presidio_mb * 1e6), seed=4096))

    print("\nMB/s of UTF-8 text on one core: wall clock (CPU time of the process)")
    print("| prompts | Onshore MB/s | Presidio MB/s | Onshore / Presidio |")
    print("|---|---|---|---|")
    for label, ours, theirs in rows:
        other = f"{theirs[0]:.2f} ({theirs[1]:.2f})" if theirs is not None else "n/a"
        ratio = f"{ours[0] / theirs[0]:.0f}x ({ours[1] / theirs[1]:.0f}x)" if theirs else "n/a"
        print(f"| {label} | {ours[0]:.1f} ({ours[1]:.1f}) | {other} | {ratio} |")
    print("\n| per 4 KB prompt (wall clock) | p50 ms | p99 ms |")
    print("|---|---|---|")
    print(f"| Onshore | {ours_lat[0]:.3f} | {ours_lat[1]:.3f} |")
    print(f"| Onshore, scan + redact | {redact_lat[0]:.3f} | {redact_lat[1]:.3f} |")
    if theirs_lat is not None:
        print(f"| Presidio | {theirs_lat[0]:.3f} | {theirs_lat[1]:.3f} |")
    print(f"\nload average after: {Path('/proc/loadavg').read_text().split()[:3]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
