"""The OpenAPI schemas of limits and prices (``/admin/v1/.../limits``, ``/admin/v1/prices``).

Bounds are the admin operations' own (``onshore.admin.limits``, ``onshore.admin.prices``), so the
document is never looser than what the server accepts.
"""

from __future__ import annotations

from typing import Any

from onshore.admin.limits import MAX_BUDGET_KRW, MAX_COUNT
from onshore.admin.prices import MAX_PRICE_KRW
from onshore.domain.limits import LIMIT_FIELDS, Tier

_TIER = {"type": ["string", "null"], "enum": [*(t.value for t in Tier), None]}
_DAY = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$", "examples": ["2026-12-01"]}
_DESCRIPTIONS = {
    "rpm": "requests per minute",
    "tpm": "tokens per minute (prompt plus completion)",
    "max_concurrent": "requests in flight at once",
    "monthly_tokens": "tokens per calendar month (UTC)",
    "monthly_budget_krw": "whole won per calendar month (UTC)",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _limit(name: str) -> dict[str, Any]:
    maximum = MAX_BUDGET_KRW if name == "monthly_budget_krw" else MAX_COUNT
    return {"type": ["integer", "null"], "minimum": 0, "maximum": maximum, "description": _DESCRIPTIONS[name]}


def _won(nullable: bool = False) -> dict[str, Any]:
    kind = ["number", "null"] if nullable else "number"
    return {
        "type": kind,
        "minimum": 0,
        "maximum": int(MAX_PRICE_KRW),
        "description": "won per million tokens",
    }


def limits_schemas() -> dict[str, Any]:
    values = {
        "type": "object",
        "description": "null: no limit of this kind",
        "required": [*LIMIT_FIELDS, "tier"],
        "properties": {**{name: _limit(name) for name in LIMIT_FIELDS}, "tier": _TIER},
    }
    price_fields = {
        "model": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"},
        "effective_from": _DAY,
        "input_krw": _won(),
        "cached_input_krw": {**_won(nullable=True), "description": "null: the input price"},
        "output_krw": _won(),
    }
    won_input = {
        "anyOf": [
            {"type": "number", "minimum": 0, "maximum": int(MAX_PRICE_KRW)},
            {"type": "string", "maxLength": 40, "examples": ["1500", "0.25"]},
        ],
        "description": "won per million tokens, from 0 to 1e9, at most 6 decimals; a number or its text",
    }
    price_input = {
        "type": "object",
        "required": ["model", "input_krw", "output_krw"],
        "additionalProperties": False,
        "properties": {
            **price_fields,
            "effective_from": {"anyOf": [_DAY, {"type": "null"}], "description": "null: today (UTC)"},
            "input_krw": won_input,
            "cached_input_krw": {"anyOf": [won_input, {"type": "null"}]},
            "output_krw": won_input,
            "object": {"const": "price"},
        },
    }
    return {
        "LimitValues": values,
        "Limits": {
            "type": "object",
            "required": ["object", "scope", "org", "org_id", "limits"],
            "properties": {
                "object": {"const": "limits"},
                "scope": {"enum": ["org", "key"]},
                "org": {"type": "string"},
                "org_id": {"type": "string"},
                "key_id": {"type": "string", "description": "keys only"},
                "limits": _ref("LimitValues"),
                "org_limits": {**_ref("LimitValues"), "description": "keys only"},
                "effective": {**_ref("LimitValues"), "description": "keys only: what is enforced"},
            },
        },
        "LimitsUpdate": {
            "type": "object",
            "description": "the fields to change: null clears one, a field left out keeps its value",
            "additionalProperties": False,
            "properties": {**{name: _limit(name) for name in LIMIT_FIELDS}, "tier": _TIER},
        },
        "Price": {
            "type": "object",
            "required": ["object", *price_fields],
            "properties": {
                "object": {"const": "price"},
                **price_fields,
                "source": {"enum": ["config", "store"]},
                "in_force": {"type": "boolean", "description": "the model's price today (UTC)"},
            },
        },
        "PriceList": {
            "type": "object",
            "required": ["object", "data"],
            "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": _ref("Price")}},
        },
        "PriceInput": price_input,
        "PriceSet": {
            "anyOf": [
                _ref("PriceInput"),
                {"type": "array", "minItems": 1, "maxItems": 1000, "items": _ref("PriceInput")},
            ]
        },
    }
