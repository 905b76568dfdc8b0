"""Korean retrieval: the embedded MiniLM against USE multilingual v3, on a small hand-written set.

``benchmarks/data/ko_retrieval.jsonl``: 30 Korean passages (2-3 sentences; finance, telecoms,
administration, health, shopping, transport, weather, education, employment), each with one query
written as a paraphrase (no copied phrase where it could be avoided). Every query must find its own
passage among all 30 by cosine similarity. Reported per engine: top-1 accuracy, MRR, and ms per text
(passages and queries embedded once, one thread, after one warm-up call; load time not counted).

    .venv/bin/python benchmarks/embeddings_korean.py
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

from onshore.backends.embeddings.encoder import Encoder
from onshore.backends.embeddings.runtime import MiniLM, model_dir
from onshore.backends.embeddings.use import UseMultilingual

DATA = Path(__file__).resolve().parent / "data" / "ko_retrieval.jsonl"


def embed(model: Encoder, texts: list[str]) -> np.ndarray:
    framed = model.tokenize(texts)
    return framed.pool(model.run(framed.rows))


def score(model: Encoder, passages: list[str], queries: list[str]) -> tuple[float, float, float]:
    embed(model, passages[:2])  # warm-up
    started = time.perf_counter()
    docs = embed(model, passages)
    asked = embed(model, queries)
    ms_per_text = (time.perf_counter() - started) * 1000 / (len(passages) + len(queries))
    similarity = asked @ docs.T
    ranks = [int((row > row[index]).sum()) + 1 for index, row in enumerate(similarity)]
    top1 = sum(rank == 1 for rank in ranks) / len(ranks)
    mrr = sum(1 / rank for rank in ranks) / len(ranks)
    return top1, mrr, ms_per_text


def main() -> None:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line]
    passages = [row["passage"] for row in rows]
    queries = [row["query"] for row in rows]
    with tempfile.TemporaryDirectory() as cache:
        engines: list[tuple[str, Encoder]] = [
            ("all-MiniLM-L6-v2 (engine: minilm)", MiniLM(model_dir(), Path(cache), "fp32", 1)),
            ("USE multilingual v3 (engine: use-multilingual)", UseMultilingual(1)),
        ]
        print(f"{len(passages)} passages, {len(queries)} queries")
        print("| model | top-1 | MRR | ms per text |")
        print("| --- | --- | --- | --- |")
        for name, model in engines:
            top1, mrr, ms = score(model, passages, queries)
            print(f"| {name} | {top1:.3f} | {mrr:.3f} | {ms:.1f} |")


if __name__ == "__main__":
    main()
