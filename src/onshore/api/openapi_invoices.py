"""The OpenAPI paths and schemas of invoices (``/admin/v1/invoices``); the shapes are
``onshore.admin.invoice_render.invoice_json``'s."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from onshore.admin.invoice_render import FORMATS, LANGS

Op = Callable[..., dict[str, Any]]  # openapi._op: (summary, body, ok, *errors, **options)

# A Month.parse month: years 0001-9998, months 01-12.
_MONTH = {"type": "string", "pattern": r"^(?!0000|9999)[0-9]{4}-(0[1-9]|1[0-2])$", "examples": ["2026-11"]}
_COUNT = {"type": "integer", "minimum": 0}
_WON = {"type": "integer", "minimum": 0, "description": "whole won"}
_DAY = {"type": "string", "format": "date"}
_PRICE = {
    "type": ["number", "null"],
    "minimum": 0,
    "description": "won per million tokens in force over the period; null: the model had no price",
}
_ID = {"type": "string", "minLength": 1, "maxLength": 32, "examples": ["INV-2026-11-000001"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _line() -> dict[str, Any]:
    properties = {
        "line": {"type": "integer", "minimum": 1},
        "model": {"type": "string"},
        "period_start": _DAY,
        "period_end": _DAY,
        "requests": _COUNT,
        "input_tokens": {**_COUNT, "description": "prompt tokens not served from the cache"},
        "cached_input_tokens": _COUNT,
        "output_tokens": _COUNT,
        "input_price_krw": _PRICE,
        "cached_input_price_krw": _PRICE,
        "output_price_krw": _PRICE,
        "amount_micro_krw": {**_COUNT, "description": "the ledger's cost of the line's requests, exact"},
        "exact_amount_krw": {"type": "number", "minimum": 0},
        "amount_krw": {**_WON, "description": "the exact amount truncated to whole won"},
    }
    return {"type": "object", "required": list(properties), "properties": properties}


def invoice_schemas() -> dict[str, Any]:
    properties = {
        "object": {"const": "invoice"},
        "id": {**_ID, "type": ["string", "null"], "description": "null: a preview, not issued"},
        "status": {"enum": ["preview", "issued", "superseded"]},
        "org": {"type": "string"},
        "org_id": {"type": "string"},
        "month": _MONTH,
        "period_start": _DAY,
        "period_end": _DAY,
        "issued_at": {"type": "string", "format": "date-time"},
        "issued_by": {"type": "string"},
        "revision": {**_COUNT, "description": "0, then 1 for the first correction of the month ..."},
        "corrects": {"type": ["string", "null"], "description": "the invoice this one corrects"},
        "superseded_by": {"type": ["string", "null"], "description": "the invoice that corrects this one"},
        "currency": {"const": "KRW"},
        "issuer": {"type": "object", "additionalProperties": {"type": "string"}},
        "lines": {"type": "array", "items": _ref("InvoiceLine")},
        "ledger_micro_krw": {**_COUNT, "description": "the sum of the ledger rows' costs, exact"},
        "exact_krw": {"type": "number", "minimum": 0},
        "adjustment_krw": {**_WON, "description": "subtotal minus the lines' whole-won amounts"},
        "subtotal_krw": {**_WON, "description": "floor(exact_krw)"},
        "vat_rate": {"type": "number", "minimum": 0, "maximum": 1},
        "vat_krw": {**_WON, "description": "floor(subtotal_krw x vat_rate)"},
        "total_krw": {**_WON, "description": "subtotal_krw + vat_krw"},
    }
    create = {
        "org": {"type": "string", "minLength": 1},
        "month": _MONTH,
        "corrects": {
            "type": ["string", "null"],
            "minLength": 1,
            "description": "issue a correction of this invoice (the month's current one)",
        },
        "preview": {
            "type": "boolean",
            "description": "true: compute without issuing (any month, the current one included)",
        },
    }
    return {
        "InvoiceLine": _line(),
        "Invoice": {"type": "object", "required": list(properties), "properties": properties},
        "InvoiceList": {
            "type": "object",
            "required": ["object", "data"],
            "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": _ref("Invoice")}},
        },
        "InvoiceCreate": {
            "type": "object",
            "required": ["org", "month"],
            "additionalProperties": False,
            "properties": create,
        },
    }


def invoice_paths(op: Op, path_param: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    admin: dict[str, Any] = {"tag": "admin", "security": "adminToken"}
    org = {
        "name": "org",
        "in": "query",
        "description": "only this organisation's",
        "schema": {"type": "string"},
    }
    create = op(
        "Issue an organisation's invoice for a month that is over (numbered, immutable, audited), "
        "a correction of one (corrects), or compute a preview (preview: true, answered 200)",
        "InvoiceCreate",
        "Invoice",
        400,
        401,
        404,
        409,
        status=201,
        **admin,
    )
    create["responses"]["200"] = {"description": "a preview", "content": _json("Invoice")}
    show = op(
        "One invoice: JSON, or ?format=html (printable on A4) or ?format=csv",
        None,
        "Invoice",
        400,
        401,
        404,
        params=(
            path_param("invoice_id"),
            {"name": "format", "in": "query", "schema": {"enum": list(FORMATS)}},
            {
                "name": "lang",
                "in": "query",
                "description": "the HTML's language",
                "schema": {"enum": list(LANGS)},
            },
        ),
        **admin,
    )
    show["responses"]["200"]["content"].update(
        {"text/html": {"schema": {"type": "string"}}, "text/csv": {"schema": {"type": "string"}}}
    )
    return {
        "/admin/v1/invoices": {
            "get": op("Issued invoices, newest first", None, "InvoiceList", 401, 404, params=(org,), **admin),
            "post": create,
        },
        "/admin/v1/invoices/{invoice_id}": {"get": show},
    }


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(schema)}}
