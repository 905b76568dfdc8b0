#!/usr/bin/env bash
# checkov, the infrastructure-as-code scanner tests/deploy runs on the Dockerfile and the rendered
# Kubernetes manifests, in an environment of its own: checkov 3.3 requires packaging<24 (and pins
# many more), which would move packages constraints.txt pins for Onshore, so it cannot share .venv.
# Every package is pinned by constraints-checkov.txt. Safe to run again: nothing happens when the
# environment already matches that file. scripts/install.sh runs it.
#
# Environment:
#   CHECKOV_VENV   the environment to create or update (default: .venv-checkov)
#   PYTHON         the interpreter that creates it (default: python3)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="${CHECKOV_VENV:-$ROOT/.venv-checkov}"
STAMP="$VENV/.constraints.sha256"
wanted="$(sha256sum constraints-checkov.txt | cut -d' ' -f1)"

if [[ -x "$VENV/bin/checkov" && -f "$STAMP" && "$(cat "$STAMP")" == "$wanted" ]]; then
    echo "==> checkov for tests/deploy: up to date ($VENV)"
    exit 0
fi
if [[ ! -x "$VENV/bin/python" ]]; then
    echo "==> creating $VENV for checkov"
    "${PYTHON:-python3}" -m venv "$VENV"
fi
echo "==> installing checkov into $VENV (pinned by constraints-checkov.txt)"
version="$(grep -E '^checkov==' constraints-checkov.txt | cut -d= -f3)"
PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/python" -m pip install --progress-bar off -q \
    -c constraints-checkov.txt "checkov==$version"
echo "$wanted" >"$STAMP"
