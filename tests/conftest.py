from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.services import stop_all_started


@pytest.fixture(scope="session", autouse=True)
def _stop_leftover_servers() -> Iterator[None]:
    yield
    stop_all_started()
