"""The ``ResponseStore`` contract on SQLite and PostgreSQL: per organisation, expiry, delete, purge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from onshore.ports import ResponseStore, StoredResponse
from onshore.store.sql.responses import SqlResponseStore

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _response(response_id: str, org: str = "org-a", days: float = 30) -> StoredResponse:
    return StoredResponse(
        id=response_id,
        org_id=org,
        created_at=T0,
        expires_at=T0 + timedelta(days=days),
        model="m",
        body={"id": response_id, "object": "response", "output": [{"type": "message", "text": "안녕"}]},
        input_items=[{"id": "msg_1", "type": "message", "role": "user", "content": "hi"}],
    )


@pytest.fixture
def store(engine: Engine) -> ResponseStore:
    return SqlResponseStore(engine)


def test_saved_response_reads_back_for_its_organisation_only(store: ResponseStore) -> None:
    saved = _response("resp_1")
    store.save(saved)
    assert store.get("org-a", "resp_1", T0) == saved
    assert store.get("org-b", "resp_1", T0) is None
    assert store.get("org-a", "resp_unknown", T0) is None


def test_saving_twice_is_harmless(store: ResponseStore) -> None:
    store.save(_response("resp_1"))
    store.save(_response("resp_1"))
    assert store.get("org-a", "resp_1", T0) is not None


def test_delete_is_per_organisation(store: ResponseStore) -> None:
    store.save(_response("resp_1"))
    assert store.delete("org-b", "resp_1", T0) is False
    assert store.get("org-a", "resp_1", T0) is not None
    assert store.delete("org-a", "resp_1", T0) is True
    assert store.get("org-a", "resp_1", T0) is None
    assert store.delete("org-a", "resp_1", T0) is False


def test_expired_responses_are_not_returned_and_are_purged(store: ResponseStore) -> None:
    store.save(_response("resp_short", days=1))
    store.save(_response("resp_long", days=30))
    later = T0 + timedelta(days=2)
    assert store.get("org-a", "resp_short", later) is None
    assert store.delete("org-a", "resp_short", later) is False
    assert store.purge(later) == 1
    assert store.purge(later) == 0
    assert store.get("org-a", "resp_short", T0) is None  # gone, not just hidden
    assert store.get("org-a", "resp_long", later) is not None


def test_purge_works_in_bounded_batches(store: ResponseStore) -> None:
    for index in range(5):
        store.save(_response(f"resp_{index}", days=1))
    later = T0 + timedelta(days=2)
    assert store.purge(later, limit=2) == 2
    assert store.purge(later, limit=10) == 3
