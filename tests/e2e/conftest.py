from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.services import Gateway, Upstream, make_gateway, remote_backend, start_upstream, stop


@pytest.fixture(scope="session")
def upstream() -> Iterator[Upstream]:
    up = start_upstream(tokens=12)
    yield up
    stop(up.proc)


@pytest.fixture(scope="session")
def gateway(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """One real `onshore serve` on SQLite in front of the fake engine, shared by read-only tests."""
    tmp: Path = tmp_path_factory.mktemp("gateway")
    gw = make_gateway(
        tmp,
        [
            remote_backend("pool-a", upstream.url, "bench-model", ("aliased", "bench-model"), "bench-embed"),
            remote_backend(
                "pool-dead",
                "http://127.0.0.1:9/v1",
                "dead-model",
                timeouts={"connect_s": 1.0, "first_byte_s": 2.0, "total_s": 5.0},
            ),
        ],
        extra={"server": {"max_body_bytes": 64 * 1024}},
    )
    gw.start()
    yield gw
    gw.stop()
