"""Bounded label and attribute values shared by the metrics and the tracing adapters.

An error code can come from an engine (``UpstreamRejected`` passes its ``code`` through), so it is
not a bounded value: anything that is not one of the gateway's own codes becomes the HTTP status.
Without this, an engine answering ``code: <anything>`` would grow a Prometheus series per string.
"""

from __future__ import annotations

from onshore.errors import OnshoreError

# Codes set by the metering step itself, or passed to an error explicitly (not a class's default).
_OTHER_CODES = frozenset(
    {
        "cancelled",
        "internal_error",
        "model_not_allowed",
        "limits_unavailable",
        "client_closed_usage_estimated",
        "context_length_exceeded",
        "model_overloaded",
    }
)


def _known_codes() -> frozenset[str]:
    codes: set[str] = set(_OTHER_CODES)
    pending: list[type[OnshoreError]] = [OnshoreError]
    while pending:
        cls = pending.pop()
        if cls.default_code is not None:
            codes.add(cls.default_code)
        pending.extend(cls.__subclasses__())
    return frozenset(codes)


KNOWN_ERROR_CODES = _known_codes()


def error_type(status: int, code: str | None) -> str | None:
    """The error's low-cardinality type (OpenTelemetry's ``error.type``), None for a success.

    The gateway's own code when it is one (``rate_limit_exceeded``, ``upstream_timeout``…), else
    the status as text (``"400"``), as the HTTP semantic conventions do.
    """
    if status < 400:
        return None
    if code is not None and code in KNOWN_ERROR_CODES:
        return code
    return str(status)


OPERATIONS = {
    # Onshore's endpoint value -> gen_ai.operation.name (OpenTelemetry GenAI semantic conventions)
    "chat.completions": "chat",
    "completions": "text_completion",
    "embeddings": "embeddings",
}
