"""Embedded chat and completions from GGUF files with llama.cpp, the ``llama_cpp`` backend kind.

Needs the optional ``llama`` extra (``pip install 'onshore[llama]'``, done by scripts/install.sh).
"""

from onshore.backends.llamacpp.backend import LlamaCppBackend

__all__ = ["LlamaCppBackend"]
