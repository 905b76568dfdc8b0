"""The OpenAPI paths and schemas of sovereignty: policies (``/admin/v1/.../policy``) and the residency
report (``/admin/v1/residency``).

Enumerations come from the domain (``PiiMode``, the detector's entity types, the refusal codes), so
the document is never looser nor narrower than what the server accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from onshore.domain.policy import PiiMode
from onshore.domain.residency import REFUSAL_CODES
from onshore.pii.entities import ALL_TYPES

Op = Callable[..., dict[str, Any]]  # openapi._op: (summary, body, ok, *errors, **options)

JURISDICTION = {
    "type": "string",
    "pattern": "^[A-Za-z]{2}$",
    "description": "ISO 3166-1 alpha-2",
    "examples": ["KR"],
}
JURISDICTIONS = {"type": "array", "minItems": 1, "items": JURISDICTION}
_CODES = {"type": "array", "items": {"type": "string", "pattern": "^[A-Z]{2}$"}}
_MODE = {"enum": [m.value for m in PiiMode]}
_TYPES = {"type": "array", "minItems": 1, "items": {"enum": sorted(t.value for t in ALL_TYPES)}}
# admin.usage.month_bounds: years 0001-9998 (year 0 has no date, 9999-12 no next month), months 01-12.
MONTH = {
    "type": "string",
    "pattern": r"^(?!0000|9999)[0-9]{4}-(0[1-9]|1[0-2])$",
    "examples": ["2026-11"],
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}], "description": description}


def _settings(*, update: bool) -> dict[str, Any]:
    unset = "null: clear it (not set here)" if update else "null: not set here"
    return {
        "jurisdictions": _nullable(
            JURISDICTIONS if update else _CODES,
            f"{unset}; an organisation without is held to the gateway's own, a key to its organisation's",
        ),
        "pii": _nullable(_MODE, f"{unset}; a key's mode replaces its organisation's personal-data policy"),
        "pii_types": _nullable(_TYPES, f"{unset}: every type the detector knows"),
        "restore": _nullable({"type": "boolean"}, f"{unset}; true needs pii redact"),
        "redact_output": _nullable({"type": "boolean"}, unset),
    }


def _sums() -> dict[str, Any]:
    count = {"type": "integer", "minimum": 0}
    return {
        "requests": count,
        "failed_requests": {**count, "description": "status 400 and above"},
        "prompt_tokens": count,
        "completion_tokens": count,
        "total_tokens": count,
        "cost_krw": {"type": "number", "minimum": 0},
        "cost_micro_krw": count,
    }


def policy_schemas() -> dict[str, Any]:
    settings = _settings(update=False)
    served_where = {
        "jurisdiction": {"type": ["string", "null"], "description": "null: not recorded (older rows)"}
    }
    return {
        "PolicySettings": {"type": "object", "required": list(settings), "properties": settings},
        "EffectivePolicy": {
            "type": "object",
            "description": "what binds requests",
            "required": list(settings),
            "properties": {
                "jurisdictions": _CODES,
                "pii": _MODE,
                "pii_types": {**_nullable(_TYPES, "null: every type the detector knows")},
                "restore": {"type": "boolean"},
                "redact_output": {"type": "boolean"},
            },
        },
        "Policy": {
            "type": "object",
            "required": ["object", "scope", "org", "org_id", "key_id", *settings, "effective"],
            "properties": {
                "object": {"const": "policy"},
                "scope": {"enum": ["org", "key"]},
                "org": {"type": "string"},
                "org_id": {"type": "string"},
                "key_id": {"type": ["string", "null"], "description": "null for an organisation"},
                **settings,
                "org_policy": {**_ref("PolicySettings"), "description": "keys only: the organisation's"},
                "effective": _ref("EffectivePolicy"),
            },
        },
        "PolicyUpdate": {
            "type": "object",
            "description": "the fields to change: null clears one, a field left out keeps its value",
            "minProperties": 1,
            "additionalProperties": False,
            "properties": _settings(update=True),
        },
        "ResidencyReport": {
            "type": "object",
            "description": "each ledger row of the month once: requests = served + not_routed requests",
            "required": [
                "object",
                "org",
                "org_id",
                "period_start",
                "period_end",
                "requests",
                "served",
                "refusals",
            ],
            "properties": {
                "object": {"const": "residency.report"},
                "org": {"type": "string"},
                "org_id": {"type": "string"},
                "period_start": {"type": "string", "format": "date-time"},
                "period_end": {"type": "string", "format": "date-time"},
                "jurisdictions": {**_CODES, "description": "where the organisation's data may go now"},
                **_sums(),
                "served_requests": {"type": "integer", "minimum": 0},
                "not_routed_requests": {"type": "integer", "minimum": 0},
                "by_jurisdiction": {
                    "type": "array",
                    "items": {"type": "object", "properties": {**served_where, **_sums()}},
                },
                "served": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {**served_where, "backend": {"type": "string"}, **_sums()},
                    },
                },
                "refusal_codes": {"type": "array", "items": {"enum": list(REFUSAL_CODES)}},
                "refusals": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "status": {"type": "integer"},
                            "error_code": {"enum": list(REFUSAL_CODES)},
                            "requests": {"type": "integer", "minimum": 1},
                        },
                    },
                },
                "refused_requests": {"type": "integer", "minimum": 0},
            },
        },
    }


def policy_paths(op: Op, path_param: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    admin: dict[str, Any] = {"tag": "admin", "security": "adminToken"}
    paths: dict[str, Any] = {}
    for path, whose, param in (
        ("/admin/v1/orgs/{name}/policy", "an organisation", "name"),
        ("/admin/v1/keys/{key_id}/policy", "a key", "key_id"),
    ):
        params = (path_param(param),)
        paths[path] = {
            "get": op(
                f"The sovereignty policy of {whose}, and the effective one",
                None,
                "Policy",
                401,
                404,
                params=params,
                **admin,
            ),
            "put": op(
                f"Change the policy of {whose}: null clears a field, a field left out keeps its value",
                "PolicyUpdate",
                "Policy",
                400,
                401,
                404,
                params=params,
                **admin,
            ),
        }
    paths["/admin/v1/residency"] = {
        "get": op(
            "Where an organisation's requests of a month were served, by jurisdiction and backend, "
            "and its refusals (from the ledger)",
            None,
            "ResidencyReport",
            400,
            401,
            404,
            params=(
                {
                    "name": "org",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string", "minLength": 1},
                },
                {
                    "name": "month",
                    "in": "query",
                    "description": "default: this month (UTC)",
                    "schema": MONTH,
                },
            ),
            **admin,
        )
    }
    return paths
