"""Fixtures for the embedded backends: the tiny GGUF is written once per test session."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def load_tiny_gguf() -> ModuleType:
    """``tests/fixtures/tiny_gguf.py`` by path (the tests directory is not a package)."""
    spec = importlib.util.spec_from_file_location("onshore_tiny_gguf", FIXTURES / "tiny_gguf.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path: Path = load_tiny_gguf().write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")
    return path


@pytest.fixture(scope="session")
def tiny_gguf_without_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("gguf") / "tiny-no-template.gguf"
    path: Path = load_tiny_gguf().write_tiny_gguf(target, chat_template=None)
    return path
