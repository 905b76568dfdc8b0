"""Setting, showing and clearing limits: who may have which, the key-under-org rule, and the audit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from onshore.admin import limits as ops
from onshore.admin.tenancy import create_key, create_org
from onshore.domain.keys import KeyDigester
from onshore.domain.limits import Limits, Scope, Tier
from onshore.errors import InvalidRequest, NotFound
from onshore.store.sql import SqlAuditLog, SqlTenancyStore, make_engine
from onshore.store.sql.limits import SqlLimitsStore
from onshore.store.sql.migrate import upgrade


class World:
    def __init__(self, path: Path) -> None:
        url = f"sqlite:///{path / 'onshore.db'}"
        upgrade(url)
        self.engine = make_engine(url)
        self.tenancy = SqlTenancyStore(self.engine)
        self.limits = SqlLimitsStore(self.engine)
        self.audit = SqlAuditLog(self.engine)
        create_org(self.tenancy, "acme")
        self.key_id = create_key(self.tenancy, KeyDigester(b"x" * 32), "acme").key.id

    def set(self, scope: str | Scope, subject: str, **changes: Any) -> ops.LimitsView:
        return ops.set_limits(self.tenancy, self.limits, scope, subject, changes, actor="tester")

    def show(self, scope: str, subject: str) -> ops.LimitsView:
        return ops.show_limits(self.tenancy, self.limits, scope, subject)

    def entries(self, action: str) -> list[dict[str, Any]]:
        return [dict(e.detail) for e in self.audit.list(action=action)]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    world = World(tmp_path)
    yield world
    world.engine.dispose()


def test_set_and_show_an_organisations_limits(world: World) -> None:
    view = world.set("org", "acme", rpm=60, monthly_budget_krw=1_000_000, tier="priority")

    assert view.limits == Limits(rpm=60, monthly_budget_krw=1_000_000, tier=Tier.PRIORITY)
    assert world.show("org", "acme").limits == view.limits
    assert ops.limits_json(view) == {
        "object": "limits",
        "scope": "org",
        "org": "acme",
        "org_id": view.org.id,
        "limits": {
            "rpm": 60,
            "tpm": None,
            "max_concurrent": None,
            "monthly_tokens": None,
            "monthly_budget_krw": 1_000_000,
            "tier": "priority",
        },
    }


def test_a_keys_show_has_its_organisations_and_the_effective_limits(world: World) -> None:
    world.set("org", "acme", rpm=60, tpm=1000, tier="batch")
    world.set("key", world.key_id, rpm=10, max_concurrent=2)

    data = ops.limits_json(world.show("key", world.key_id))

    assert data["key_id"] == world.key_id and data["org"] == "acme"
    assert data["limits"]["rpm"] == 10 and data["limits"]["tier"] is None
    assert data["org_limits"]["tpm"] == 1000
    assert data["effective"] == {
        "rpm": 10,
        "tpm": 1000,
        "max_concurrent": 2,
        "monthly_tokens": None,
        "monthly_budget_krw": None,
        "tier": "batch",
    }


def test_the_effective_tier_of_an_organisation_without_one_is_standard(world: World) -> None:
    assert ops.limits_json(world.show("key", world.key_id))["effective"]["tier"] == "standard"


def test_a_key_cannot_be_set_above_its_organisation(world: World) -> None:
    world.set("org", "acme", tpm=1000)

    with pytest.raises(InvalidRequest) as caught:
        world.set("key", world.key_id, tpm=1001)

    assert caught.value.param == "tpm"
    assert "1001" in caught.value.message and "1000" in caught.value.message
    world.set("key", world.key_id, tpm=1000)  # equal is fine
    world.set("key", world.key_id, rpm=5)  # a limit the organisation does not have is fine


def test_lowering_an_organisation_below_a_key_is_allowed_and_binds(world: World) -> None:
    world.set("key", world.key_id, rpm=50)
    world.set("org", "acme", rpm=20)
    effective = world.show("key", world.key_id).effective
    assert effective is not None and effective.rpm == 20


def test_tier_is_for_organisations_only(world: World) -> None:
    with pytest.raises(InvalidRequest) as caught:
        world.set("key", world.key_id, tier="priority")
    assert caught.value.param == "tier"
    with pytest.raises(InvalidRequest):
        ops.clear_limits(world.tenancy, world.limits, "key", world.key_id, ["tier"])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rpm", -1),
        ("rpm", 1.5),
        ("rpm", "10"),
        ("rpm", True),
        ("tpm", 2**53),
        ("monthly_budget_krw", 9_000_000_000_001),
        ("tier", "gold"),
        ("burst", 5),
    ],
)
def test_bad_values_are_refused_naming_the_field(world: World, field: str, value: object) -> None:
    with pytest.raises(InvalidRequest) as caught:
        world.set("org", "acme", **{field: value})
    assert caught.value.param == field
    assert world.show("org", "acme").limits == Limits()


def test_zero_is_a_limit(world: World) -> None:
    view = world.set("org", "acme", monthly_budget_krw=0, rpm=0)
    assert view.limits == Limits(rpm=0, monthly_budget_krw=0)


def test_unknown_subjects_are_not_found(world: World) -> None:
    with pytest.raises(NotFound) as org:
        world.set("org", "nobody", rpm=1)
    with pytest.raises(NotFound) as key:
        world.show("key", "key_missing")
    with pytest.raises(InvalidRequest):
        world.show("team", "acme")
    assert (org.value.param, key.value.param) == ("org", "key_id")


def test_none_clears_one_field_and_absent_fields_stay(world: World) -> None:
    world.set("org", "acme", rpm=60, tpm=1000)
    view = world.set("org", "acme", rpm=None)
    assert view.limits == Limits(tpm=1000)


def test_clear_named_fields_or_all(world: World) -> None:
    world.set("org", "acme", rpm=60, tpm=1000, monthly_tokens=5, tier="batch")

    after_one = ops.clear_limits(world.tenancy, world.limits, "org", "acme", ["tpm"], actor="tester")
    assert after_one.limits == Limits(rpm=60, monthly_tokens=5, tier=Tier.BATCH)

    after_all = ops.clear_limits(world.tenancy, world.limits, "org", "acme", None, actor="tester")
    assert after_all.limits == Limits()
    assert world.limits.limits_snapshot().orgs == {}


def test_every_change_writes_one_entry_with_the_changed_fields(world: World) -> None:
    world.set("org", "acme", rpm=60, tier="priority")
    world.set("org", "acme", rpm=60)  # changes nothing: no entry, no new version
    version = world.limits.limits_version()
    world.set("org", "acme", rpm=30)
    ops.clear_limits(world.tenancy, world.limits, "org", "acme", actor="tester")
    ops.clear_limits(world.tenancy, world.limits, "org", "acme", actor="tester")  # nothing left

    sets = world.entries("limits.set")
    assert sets[::-1] == [
        {
            "scope": "org",
            "changes": {"rpm": {"from": None, "to": 60}, "tier": {"from": None, "to": "priority"}},
        },
        {"scope": "org", "changes": {"rpm": {"from": 60, "to": 30}}},
    ]
    assert world.entries("limits.clear") == [
        {
            "scope": "org",
            "changes": {"rpm": {"from": 30, "to": None}, "tier": {"from": "priority", "to": None}},
        }
    ]
    assert world.limits.limits_version() == version + 2
    entry = world.audit.list(action="limits.clear")[0]
    assert (entry.actor, entry.target_type, entry.org_id) == ("tester", "organisation", entry.target_id)


def test_a_keys_entry_names_the_key(world: World) -> None:
    world.set("key", world.key_id, rpm=3)
    entry = world.audit.list(action="limits.set")[0]
    assert (entry.target_type, entry.target_id) == ("api_key", world.key_id)
    assert entry.org_id == world.show("org", "acme").org.id


def test_scope_may_be_given_as_the_enum(world: World) -> None:
    assert world.set(Scope.ORG, "acme", rpm=1).scope is Scope.ORG


class _OrgLoweredMeanwhile:
    """A store on which another admin lowers the organisation's tpm just before a key's change is
    written: the race a check made outside the writing transaction would miss."""

    def __init__(self, world: World) -> None:
        self._world = world

    def __getattr__(self, name: str) -> Any:
        return getattr(self._world.limits, name)

    def update_limits(self, scope: Scope, *args: Any, **kwargs: Any) -> Any:
        if scope is Scope.KEY:
            self._world.set("org", "acme", tpm=100)
        return self._world.limits.update_limits(scope, *args, **kwargs)


def test_a_keys_limit_is_checked_against_its_organisation_as_it_stands_when_written(world: World) -> None:
    world.set("org", "acme", tpm=1000)
    racing: Any = _OrgLoweredMeanwhile(world)

    with pytest.raises(InvalidRequest) as caught:
        ops.set_limits(world.tenancy, racing, "key", world.key_id, {"tpm": 500}, actor="tester")

    assert "100" in caught.value.message
    assert world.show("key", world.key_id).limits == Limits()
    view = ops.set_limits(world.tenancy, racing, "key", world.key_id, {"tpm": 100}, actor="tester")
    assert view.org_limits == Limits(tpm=100) and view.limits == Limits(tpm=100)


def test_a_whole_number_written_with_a_zero_fraction_is_that_number(world: World) -> None:
    # JSON Schema's "integer" admits 2475.0, and clients (and the fuzzer) send it.
    world.set("org", "acme", max_concurrent=2475.0)
    assert world.show("org", "acme").limits.max_concurrent == 2475
