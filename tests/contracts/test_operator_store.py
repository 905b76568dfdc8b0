"""The ``OperatorStore`` contract on SQLite and PostgreSQL, and ``OperatorAuth`` over it.

What the admin API and the console rely on: a change commits with its audit entry, a name is
unique, a revocation keeps its first moment and takes the operator's tokens with it, and a revoked
token stops authenticating within the cache's second.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from onshore.admin import operators as ops
from onshore.admin.operator_auth import OperatorAuth
from onshore.domain.operators import BREAK_GLASS, token_digest
from onshore.errors import AuthenticationFailed, Conflict, InvalidRequest, NotFound
from onshore.ports import OperatorStore
from onshore.store.sql.operators import SqlOperatorStore
from onshore.store.sql.schema import audit_log

T0 = datetime(2026, 12, 7, 9, tzinfo=UTC)
BREAK_GLASS_TOKEN = "break-glass-" + "z" * 40


@pytest.fixture
def store(engine: Engine) -> OperatorStore:
    return SqlOperatorStore(engine)


def _actions(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log.c.action, audit_log.c.actor).order_by(audit_log.c.seq)).all()
    return [(row.action, row.actor) for row in rows]


def test_create_list_and_find_by_token(store: OperatorStore, engine: Engine) -> None:
    new = ops.create_operator(store, "alice", "auditor", actor="operator:admin", now=T0)
    assert new.secret.startswith("onshore-op-") and new.token.prefix == new.secret[: len(new.token.prefix)]
    found = store.find_token(token_digest(new.secret))
    assert found is not None and found[0].name == "alice" and found[1].id == new.token.id
    assert store.find_token(token_digest(new.secret + "x")) is None
    [(operator, tokens)] = ops.list_operators(store)
    assert operator.role == "auditor" and [t.id for t in tokens] == [new.token.id]
    assert _actions(engine) == [("operator.create", "operator:admin")]
    # The audit entry names the token by id and prefix, never the token or its digest.
    with engine.connect() as conn:
        detail = conn.execute(select(audit_log.c.detail)).scalar_one()
    assert new.secret not in str(detail) and new.token.digest not in str(detail)


def test_names_roles_and_grants_are_checked(store: OperatorStore) -> None:
    ops.create_operator(store, "bea", "billing", grants=["audit:read"], actor="cli:root", now=T0)
    with pytest.raises(Conflict):
        ops.create_operator(store, "bea", "auditor", actor="cli:root", now=T0)
    with pytest.raises(InvalidRequest):
        ops.create_operator(store, "carl", "superuser", actor="cli:root", now=T0)
    with pytest.raises(InvalidRequest):
        ops.create_operator(store, "carl", "billing", grants=["everything"], actor="cli:root", now=T0)
    with pytest.raises(InvalidRequest):
        ops.create_operator(store, "admin", "admin", actor="cli:root", now=T0)
    bea = store.get_operator_by_name("bea")
    assert bea is not None and bea.grants == ("audit:read",) and "audit:read" in bea.permissions


def test_revoking_an_operator_revokes_every_token_once(store: OperatorStore, engine: Engine) -> None:
    ops.create_operator(store, "dan", "admin", actor="cli:root", now=T0)
    ops.issue_token(store, "dan", actor="cli:root", now=T0)
    operator, tokens = ops.revoke(store, "dan", actor="cli:root", now=T0 + timedelta(hours=1))
    assert operator.revoked_at == T0 + timedelta(hours=1)
    assert len(tokens) == 2 and all(t.revoked_at == T0 + timedelta(hours=1) for t in tokens)
    operator, _ = ops.revoke(store, "dan", actor="cli:root", now=T0 + timedelta(hours=2))
    assert operator.revoked_at == T0 + timedelta(hours=1)  # the first moment stays
    with pytest.raises(Conflict):
        ops.issue_token(store, "dan", actor="cli:root")
    with pytest.raises(NotFound):
        ops.revoke(store, "nobody", actor="cli:root")
    assert [a for a, _ in _actions(engine)].count("operator.revoke") == 2


def test_revoking_one_token_keeps_the_others(store: OperatorStore) -> None:
    first = ops.create_operator(store, "eve", "billing", actor="cli:root", now=T0)
    second = ops.issue_token(store, "eve", actor="cli:root", now=T0)
    _, tokens = ops.revoke(store, "eve", token_id=first.token.id, actor="cli:root", now=T0)
    state = {t.id: t.revoked_at for t in tokens}
    assert state == {first.token.id: T0, second.token.id: None}
    with pytest.raises(NotFound):
        ops.revoke(store, "eve", token_id="opt_nope", actor="cli:root")


async def test_auth_accepts_live_tokens_and_refuses_revoked_and_expired_ones(store: OperatorStore) -> None:
    clock = [0.0]
    auth = OperatorAuth(store, BREAK_GLASS_TOKEN, monotonic=lambda: clock[0])
    live = ops.create_operator(store, "fay", "auditor", actor="cli:root")
    short = ops.issue_token(
        store, "fay", expires_in="1s", actor="cli:root", now=datetime(2026, 1, 1, tzinfo=UTC)
    )
    caller = await auth.authenticate(live.secret)
    assert caller.name == "fay" and caller.actor == "operator:fay" and not caller.may("keys:write")
    assert await auth.by_token_id(live.token.id) == caller
    with pytest.raises(AuthenticationFailed):
        await auth.authenticate(short.secret)
    assert await auth.by_token_id(short.token.id) is None
    assert await auth.authenticate(BREAK_GLASS_TOKEN) == BREAK_GLASS
    with pytest.raises(AuthenticationFailed):
        await auth.authenticate("onshore-op-" + "x" * 43)
    with pytest.raises(AuthenticationFailed):
        await auth.authenticate("wrong-" + "y" * 40)

    ops.revoke(store, "fay", actor="cli:root")  # on another replica: this one's cache still holds it
    assert (await auth.authenticate(live.secret)).name == "fay"
    clock[0] += 1.01  # the cache's second is over
    with pytest.raises(AuthenticationFailed):
        await auth.authenticate(live.secret)
    assert await auth.by_token_id(live.token.id) is None


async def test_without_a_break_glass_token_only_operator_tokens_work(store: OperatorStore) -> None:
    auth = OperatorAuth(store, None)
    with pytest.raises(AuthenticationFailed) as refused:
        await auth.authenticate(BREAK_GLASS_TOKEN)
    assert refused.value.code == "admin_disabled"
    new = ops.create_operator(store, "gus", "admin", actor="cli:root")
    assert (await auth.authenticate(new.secret)).may("operators:write")
    assert await auth.by_token_id("break-glass") is None
