"""Sovereignty policies through the admin operations on SQLite: jurisdictions at creation and after,
the key-narrows-its-organisation rule, the personal-data rules, the JSON form and the audit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from onshore.admin import policy as ops
from onshore.admin.tenancy import create_key, create_org
from onshore.domain.keys import KeyDigester
from onshore.domain.limits import Scope
from onshore.domain.policy import PiiMode, SubjectPolicy
from onshore.errors import Conflict, InvalidRequest, NotFound
from onshore.pii.entities import EntityType
from onshore.store.sql import SqlAuditLog, SqlTenancyStore, make_engine
from onshore.store.sql.limits import SqlLimitsStore
from onshore.store.sql.migrate import upgrade
from onshore.store.sql.policies import SqlPolicyStore

HOME = "KR"


class World:
    def __init__(self, path: Path) -> None:
        url = f"sqlite:///{path / 'onshore.db'}"
        upgrade(url)
        self.engine = make_engine(url)
        self.tenancy = SqlTenancyStore(self.engine)
        self.policies = SqlPolicyStore(self.engine)
        self.limits = SqlLimitsStore(self.engine)
        self.audit = SqlAuditLog(self.engine)
        self.digester = KeyDigester(b"x" * 32)
        create_org(self.tenancy, "acme", jurisdictions=["kr", "JP"], actor="tester")
        self.key_id = self.new_key()

    def new_key(self, jurisdictions: Any = None, org: str = "acme") -> str:
        new = create_key(
            self.tenancy,
            self.digester,
            org,
            jurisdictions=jurisdictions,
            policies=self.policies,
            home=HOME,
            actor="tester",
        )
        return new.key.id

    def set(self, scope: str, subject: str, **changes: Any) -> ops.PolicyView:
        return ops.set_policy(self.tenancy, self.policies, scope, subject, changes, home=HOME, actor="tester")

    def show(self, scope: str, subject: str) -> ops.PolicyView:
        return ops.show_policy(self.tenancy, self.policies, scope, subject, home=HOME)

    def entries(self, action: str) -> list[dict[str, Any]]:
        return [dict(e.detail) for e in self.audit.list(action=action)]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    world = World(tmp_path)
    yield world
    world.engine.dispose()


def test_an_organisation_is_created_with_its_jurisdictions_in_one_audited_step(world: World) -> None:
    org = world.tenancy.get_org_by_name("acme")
    assert org is not None
    assert world.policies.get_policy(Scope.ORG, org.id) == SubjectPolicy(jurisdictions=("JP", "KR"))
    assert world.entries("org.create") == [{"name": "acme", "jurisdictions": ["JP", "KR"]}]

    create_org(world.tenancy, "plain")
    plain = world.show("org", "plain")
    assert plain.policy == SubjectPolicy() and plain.effective.jurisdictions == {HOME}
    assert {"name": "plain", "jurisdictions": None} in world.entries("org.create")


@pytest.mark.parametrize("bad", [["KOR"], [], "", ["K1"], [7], {"KR": 1}])
def test_a_bad_jurisdiction_creates_nothing(world: World, bad: Any) -> None:
    with pytest.raises(InvalidRequest) as caught:
        create_org(world.tenancy, "beta", jurisdictions=bad)
    assert caught.value.param == "jurisdictions"
    assert world.tenancy.get_org_by_name("beta") is None


def test_a_taken_name_is_a_conflict_and_keeps_the_first_policy(world: World) -> None:
    with pytest.raises(Conflict):
        create_org(world.tenancy, "acme", jurisdictions=["US"])
    assert world.show("org", "acme").policy.jurisdictions == ("JP", "KR")


def test_a_key_narrows_its_organisation_at_creation(world: World) -> None:
    key_id = world.new_key(["jp"])
    view = world.show("key", key_id)
    assert view.policy.jurisdictions == ("JP",) and view.effective.jurisdictions == {"JP"}
    entry = world.audit.list(action="key.create", target_id=key_id)[0]
    assert entry.detail["jurisdictions"] == ["JP"]


def test_a_key_wider_than_its_organisation_is_refused_naming_both_sets(world: World) -> None:
    keys_before = len(world.tenancy.list_keys())
    with pytest.raises(InvalidRequest) as caught:
        world.new_key(["KR", "US"])
    message = caught.value.message
    assert caught.value.param == "jurisdictions"
    assert "KR,US" in message and "JP,KR" in message and "acme" in message
    assert len(world.tenancy.list_keys()) == keys_before  # nothing created

    with pytest.raises(InvalidRequest) as later:
        world.set("key", world.key_id, jurisdictions=["US"])
    assert "US" in later.value.message and "JP,KR" in later.value.message
    assert world.show("key", world.key_id).policy.jurisdictions is None


def test_an_organisation_without_jurisdictions_bounds_keys_by_the_gateways_own(world: World) -> None:
    create_org(world.tenancy, "plain")
    with pytest.raises(InvalidRequest) as caught:
        world.new_key(["JP"], org="plain")
    assert "JP" in caught.value.message and "KR" in caught.value.message
    key_id = world.new_key(["KR"], org="plain")
    assert world.show("key", key_id).effective.jurisdictions == {"KR"}


def test_set_org_jurisdictions_narrows_and_the_key_is_held_to_the_intersection(world: World) -> None:
    key_id = world.new_key(["JP", "KR"])
    view = ops.set_org_jurisdictions(world.tenancy, world.policies, "acme", "KR", home=HOME, actor="tester")
    assert view.policy.jurisdictions == ("KR",)
    assert world.show("key", key_id).effective.jurisdictions == {"KR"}
    assert world.entries("org.jurisdictions") == [{"from": ["JP", "KR"], "to": ["KR"]}]

    cleared = ops.set_org_jurisdictions(world.tenancy, world.policies, "acme", None, home="JP")
    assert cleared.policy.jurisdictions is None and cleared.effective.jurisdictions == {"JP"}
    with pytest.raises(NotFound):
        ops.set_org_jurisdictions(world.tenancy, world.policies, "nobody", "KR", home=HOME)


def test_put_then_show_returns_the_policy(world: World) -> None:
    world.set("org", "acme", pii="redact", pii_types=["kr_rrn", "KR_PHONE"], restore=True)
    data = ops.policy_json(world.show("org", "acme"))
    org = world.tenancy.get_org_by_name("acme")
    assert org is not None
    assert data == {
        "object": "policy",
        "scope": "org",
        "org": "acme",
        "org_id": org.id,
        "key_id": None,
        "jurisdictions": ["JP", "KR"],
        "pii": "redact",
        "pii_types": ["KR_PHONE", "KR_RRN"],
        "restore": True,
        "redact_output": None,
        "effective": {
            "jurisdictions": ["JP", "KR"],
            "pii": "redact",
            "pii_types": ["KR_PHONE", "KR_RRN"],
            "restore": True,
            "redact_output": False,
        },
    }


def test_a_keys_policy_replaces_its_organisations_personal_data_policy(world: World) -> None:
    world.set("org", "acme", pii="redact", restore=True)
    inherited = ops.policy_json(world.show("key", world.key_id))
    assert inherited["pii"] is None and inherited["org_policy"]["pii"] == "redact"
    assert inherited["effective"]["pii"] == "redact" and inherited["effective"]["restore"] is True

    world.set("key", world.key_id, pii="block", pii_types="KR_RRN")
    data = ops.policy_json(world.show("key", world.key_id))
    assert (data["scope"], data["key_id"]) == ("key", world.key_id)
    assert data["effective"] == {
        "jurisdictions": ["JP", "KR"],
        "pii": "block",
        "pii_types": ["KR_RRN"],
        "restore": False,  # the organisation's restore is not mixed into the key's policy
        "redact_output": False,
    }


@pytest.mark.parametrize(
    ("changes", "param", "words"),
    [
        ({"pii": "scrub"}, "pii", "unknown personal-data mode"),
        ({"pii": 1}, "pii", "unknown personal-data mode"),
        ({"pii": "detect", "pii_types": ["KR_NOPE"]}, "pii_types", "unknown personal-data type"),
        ({"pii": "detect", "pii_types": 5}, "pii_types", "array of type names"),
        ({"pii": "block", "restore": True}, "restore", "needs pii redact"),
        ({"restore": True}, "restore", "needs a personal-data mode"),
        ({"pii_types": ["KR_RRN"]}, "pii_types", "needs a personal-data mode"),
        ({"redact_output": "yes"}, "redact_output", "true, false or null"),
        ({"jurisdictions": ["Korea"]}, "jurisdictions", "not a jurisdiction"),
        ({"residency": "KR"}, "residency", "unknown policy field"),
    ],
)
def test_bad_policies_are_refused_naming_the_field(
    world: World, changes: dict[str, Any], param: str, words: str
) -> None:
    before = world.limits.limits_version()
    with pytest.raises(InvalidRequest) as caught:
        world.set("org", "acme", **changes)
    assert caught.value.param == param and words in caught.value.message
    assert world.show("org", "acme").policy == SubjectPolicy(jurisdictions=("JP", "KR"))
    assert world.limits.limits_version() == before  # nothing written, nothing to reload
    assert world.entries("policy.set") == []


def test_an_empty_change_is_refused(world: World) -> None:
    with pytest.raises(InvalidRequest, match="at least one field"):
        world.set("org", "acme")


def test_restore_is_checked_against_the_stored_mode(world: World) -> None:
    world.set("org", "acme", pii="block")
    with pytest.raises(InvalidRequest, match="this organisation's is block"):
        world.set("org", "acme", restore=True)
    world.set("org", "acme", pii="redact")
    assert world.set("org", "acme", restore=True).policy.pii_restore is True


def test_leaving_redact_clears_restore_and_clearing_the_mode_clears_the_rest(world: World) -> None:
    world.set("org", "acme", pii="redact", restore=True, redact_output=True, pii_types=["KR_RRN"])
    assert world.set("org", "acme", pii="detect").policy == SubjectPolicy(
        jurisdictions=("JP", "KR"),
        pii_mode=PiiMode.DETECT,
        pii_types=(EntityType.KR_RRN,),
        pii_redact_output=True,
    )
    view = world.set("org", "acme", pii=None)
    assert view.policy == SubjectPolicy(jurisdictions=("JP", "KR"))
    assert world.entries("policy.clear")[0]["after"]["pii"] is None


def test_every_change_writes_one_entry_with_before_and_after(world: World) -> None:
    world.set("key", world.key_id, pii="detect")
    version = world.limits.limits_version()
    world.set("key", world.key_id, pii="detect")  # no change: no entry, no new version
    assert world.limits.limits_version() == version

    entries = world.audit.list(action="policy.set")
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.actor, entry.target_type, entry.target_id) == ("tester", "api_key", world.key_id)
    assert entry.detail == {
        "scope": "key",
        "before": {
            "jurisdictions": None,
            "pii": None,
            "pii_types": None,
            "restore": None,
            "redact_output": None,
        },
        "after": {
            "jurisdictions": None,
            "pii": "detect",
            "pii_types": None,
            "restore": None,
            "redact_output": None,
        },
    }


def test_a_change_reaches_the_snapshot_replicas_load(world: World) -> None:
    world.set("key", world.key_id, jurisdictions=["JP"], pii="redact")
    snapshot = world.limits.limits_snapshot()
    assert snapshot.key_policies[world.key_id] == SubjectPolicy(
        jurisdictions=("JP",), pii_mode=PiiMode.REDACT
    )


def test_unknown_subjects_are_not_found(world: World) -> None:
    with pytest.raises(NotFound) as org:
        world.show("org", "nobody")
    with pytest.raises(NotFound) as key:
        world.set("key", "key_missing", pii="off")
    assert (org.value.param, key.value.param) == ("org", "key_id")
    with pytest.raises(InvalidRequest):
        world.show("team", "acme")
