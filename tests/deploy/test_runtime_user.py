"""The image's runtime contract, checked on this machine without a Docker engine: the real gateway
started as the image's user (UID 10001, no supplementary groups) with the image's environment, where
only its data directory and its TMPDIR are writable to it, serves /healthz and /readyz.

What it catches: a path the gateway must write that is not on one of the image's volumes (the data
directory and /tmp; everything else is root's, as on a read-only root filesystem), and a file it needs
but cannot read as a non-root user.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.deploy.artifacts import dockerfile_stages, env_pairs
from tests.support.services import IN_CI, ONSHORE, STARTED, free_port, stop, wait_http


def _image_user() -> tuple[int, int]:
    uid, _, gid = dockerfile_stages()[-1].all("USER")[-1].partition(":")
    return int(uid), int(gid)


@pytest.fixture
def owned_dirs() -> Iterator[tuple[Path, Path]]:
    """A data directory and a TMPDIR owned by the image's user, in /tmp (pytest's own is 0700 root)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        if IN_CI:
            pytest.fail("CI=true: the runtime-user test needs root and setpriv (util-linux)")
        pytest.skip("needs root and setpriv to run the gateway as the image's user")
    uid, gid = _image_user()
    # The checkout and its .venv must be readable by that user (they are under /work; a checkout
    # inside /root would not be): a property of where the tests run, not of the image, so a skip.
    probe = subprocess.run(
        [
            "setpriv",
            f"--reuid={uid}",
            f"--regid={gid}",
            "--clear-groups",
            sys.executable,
            "-c",
            "import onshore",
        ],
        env={"PYTHONPATH": os.environ.get("PYTHONPATH", "")},
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(f"UID {uid} cannot read this checkout or its environment: {probe.stderr[-300:]!r}")
    base = Path(tempfile.mkdtemp(prefix="onshore-image-user-"))
    base.chmod(0o755)
    data, tmp = base / "data", base / "tmp"
    for directory in (data, tmp):
        directory.mkdir(mode=0o700)
        os.chown(directory, uid, gid)
    yield data, tmp
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.slow
def test_the_gateway_serves_as_the_image_user_writing_only_its_volumes(owned_dirs: tuple[Path, Path]) -> None:
    data, tmp = owned_dirs
    env: dict[str, str] = {}
    for args in dockerfile_stages()[-1].all("ENV"):
        env.update(env_pairs(args))
    # The image's paths, moved to this test's directories; the interpreter is this environment's.
    moved = {"/var/lib/onshore": str(data), "/tmp": str(tmp)}
    for name, value in env.items():
        for image_path, here in moved.items():
            if value == image_path or value.startswith(image_path + "/"):
                env[name] = here + value[len(image_path) :]
    env["PATH"] = f"{Path(sys.executable).parent}:/usr/bin:/bin"
    env["PYTHONPATH"] = os.environ.get("PYTHONPATH", "")
    port = free_port()
    uid, gid = _image_user()
    command = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *ONSHORE]
    log = data.parent / "gateway.log"  # written by this (root) process's file descriptor
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [*command, "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=data,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    STARTED.append(proc)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=120, proc=proc)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
    finally:
        # A clean stop: uvicorn re-raises the SIGTERM it handled once shut down, hence -SIGTERM.
        assert stop(proc) in (0, -signal.SIGTERM), log.read_text(errors="replace")[-3000:]
    # What it made, it made in the data directory, owned by the image's user.
    made = {p.name for p in data.iterdir()}
    assert {"secret.key", "onshore.db"} <= made, made
    assert all(p.stat().st_uid == uid for p in data.rglob("*"))
