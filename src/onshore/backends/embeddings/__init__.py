"""Embedded sentence embeddings (all-MiniLM-L6-v2 on ONNX Runtime), the ``embeddings`` backend kind."""

from onshore.backends.embeddings.backend import EmbeddingsBackend

__all__ = ["EmbeddingsBackend"]
