"""Long inputs on the embedded MiniLM: split-and-pool against truncation, by retrieval accuracy.

Documents are built from the standard library's own docstrings (no data to download): each is the
bodies of 8 functions' docstrings of one module (400-1,500 word pieces, past the 254-piece window).
A query is the first sentence of one of those docstrings (left out of the document), and it must
retrieve its document among all of them. Truncation sees only the first 254 pieces of a document;
split-and-pool sees all of it. Reported: top-1 accuracy overall and for queries whose passage starts
past the window.

    .venv/bin/python benchmarks/embeddings_long.py
"""

from __future__ import annotations

import importlib
import inspect
import tempfile
from pathlib import Path

import numpy as np

from onshore.backends.embeddings.runtime import MiniLM, model_dir

MODULES = [
    "json",
    "os",
    "shutil",
    "subprocess",
    "argparse",
    "logging",
    "asyncio",
    "socket",
    "csv",
    "zipfile",
    "tarfile",
    "pathlib",
    "datetime",
    "random",
    "statistics",
    "textwrap",
    "difflib",
    "heapq",
    "bisect",
    "functools",
    "itertools",
    "collections",
    "threading",
    "sqlite3",
    "email.message",
    "http.client",
    "urllib.request",
    "xml.dom.minidom",
    "decimal",
    "fractions",
]
PER_DOC = 8


def passages(module_name: str) -> list[tuple[str, str]]:
    module = importlib.import_module(module_name)
    found = []
    for name, obj in sorted(vars(module).items()):
        if name.startswith("_") or not callable(obj):
            continue
        doc = inspect.getdoc(obj) or ""
        head, _, rest = doc.partition(".")
        if len(head.split()) >= 5 and len(rest.split()) >= 25:
            found.append((head.strip() + ".", " ".join(rest.split())))
    return found[:PER_DOC]


def main() -> None:
    model = MiniLM(model_dir(), Path(tempfile.mkdtemp()), "fp32", 2, split=True, overlap=32)
    documents, queries = [], []  # queries: (text, document index, passage starts past the window)
    for name in MODULES:
        items = passages(name)
        if len(items) < 4:
            continue
        offset, parts = 0, []
        for head, body in items:
            queries.append((head, len(documents), offset > 254))
            parts.append(body)
            offset += model.tokenize([body]).tokens
        documents.append(" ".join(parts))

    def embed(texts: list[str]) -> np.ndarray:
        framed = model.tokenize(texts)
        return framed.pool(model.run(framed.rows)) if framed.rows else np.empty((0, 384))

    split = np.vstack([embed([doc]) for doc in documents])
    truncated = np.vstack([model.run([model.tokenize([doc]).rows[0]]) for doc in documents])
    lengths = [model.tokenize([doc]).tokens for doc in documents]
    query_vectors = embed([q for q, _, _ in queries])
    for label, docs in (("truncate to 254", truncated), ("split + pool", split)):
        hits = (query_vectors @ docs.T).argmax(axis=1) == np.array([d for _, d, _ in queries])
        late = np.array([late for _, _, late in queries])
        print(
            f"{label:16s} top-1 {hits.mean():.3f} (all {len(queries)}), "
            f"{hits[late].mean():.3f} (passage past the window, {late.sum()}), "
            f"{hits[~late].mean():.3f} (inside it, {(~late).sum()})"
        )
    print(
        f"{len(documents)} documents, {min(lengths)}-{max(lengths)} word pieces, "
        f"median {int(np.median(lengths))}"
    )


if __name__ == "__main__":
    main()
