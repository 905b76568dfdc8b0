"""Tracing settings (``tracing:``): OpenTelemetry over OTLP/HTTP; see docs/observability.md."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TracingSettings(_Strict):
    """OpenTelemetry traces over OTLP/HTTP (docs/observability.md): one span per inference request.

    Off unless an endpoint is set, here or in the standard OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used
    as it is) or OTEL_EXPORTER_OTLP_ENDPOINT (the collector's base: /v1/traces is added).
    """

    enabled: bool = True  # false: off, even when an OTEL_EXPORTER_OTLP_* endpoint is set
    otlp_endpoint: str | None = Field(None, pattern=r"^https?://[^\s]+$")  # e.g. http://otel:4318
    service_name: str = Field("onshore", min_length=1, max_length=128)
    # Share of the traces that start here that are kept; a client's traceparent decides for its own.
    sample_ratio: float = Field(1.0, ge=0.0, le=1.0)
    # The name of the variable holding the exporter's headers ("key=value,key2=value2", values
    # URL-encoded), e.g. a collector's auth token: never in the file.
    headers_env: str = "OTEL_EXPORTER_OTLP_HEADERS"
