"""Read the configuration once: YAML file, then ``ONSHORE_…`` environment overrides, then validate.

Precedence (highest first): environment variables, the YAML file, the defaults in ``settings.py``.
``ONSHORE_SERVER__PORT=9000`` sets ``server.port``; ``ONSHORE_DATA_DIR`` sets ``data_dir``.
Errors name the bad key and where it came from, and never echo a secret's value. An ``ONSHORE_…``
variable that is neither a key nor one of the documented non-setting variables is an error too
(with the nearest known name), so a misspelt override never silently falls back to the file.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from onshore.config.settings import RemoteBackendSettings, Settings
from onshore.errors import ConfigError

ENV_PREFIX = "ONSHORE_"
CONFIG_ENV = "ONSHORE_CONFIG"
# The file `onshore init` writes and every command looks for in the working directory.
DEFAULT_CONFIG_NAME = "onshore.yaml"
# Environment variables with our prefix that are not configuration keys: the config file's path,
# scripts/install.sh's two, and the default names of the secrets (admin.token_env,
# security.secret_env and audit.signing_key_env; other names those keys and backends' api_key_env
# give are allowed too).
NOT_SETTINGS = frozenset(
    {
        "ONSHORE_CONFIG",
        "ONSHORE_VENV",
        "ONSHORE_EXTRAS",
        "ONSHORE_ADMIN_TOKEN",
        "ONSHORE_SECRET",
        "ONSHORE_PREVIOUS_SECRETS",
        "ONSHORE_NEXT_SECRET",
        "ONSHORE_AUDIT_SIGNING_KEY",
        "ONSHORE_OPERATOR_TOKEN",  # the CLI's server queries (cli/server_view.py)
    }
)
# The test suite's own variables (servers to test against); never read by the gateway.
_TEST_PREFIX = "ONSHORE_TEST_"


def default_data_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "onshore"


def config_path_from(flag: str | Path | None, env: Mapping[str, str]) -> Path | None:
    value = str(flag) if flag else env.get(CONFIG_ENV)
    return Path(value).expanduser() if value else None


def discover_config(cwd: Path | None = None) -> Path | None:
    """``./onshore.yaml`` when it exists: what a command uses when given no --config."""
    candidate = (cwd or Path.cwd()) / DEFAULT_CONFIG_NAME
    return candidate if candidate.is_file() else None


def config_above(cwd: Path | None = None) -> Path | None:
    """The nearest ``onshore.yaml`` in a directory above ``cwd``, for a hint; None if there is none."""
    for directory in (cwd or Path.cwd()).resolve().parents:
        candidate = directory / DEFAULT_CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def load_settings(config: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Build validated settings from an optional YAML file and the environment."""
    environ = os.environ if env is None else env
    path = config_path_from(config, environ)
    raw: dict[str, Any] = _read_yaml(path) if path is not None else {}
    sources: dict[str, str] = {}
    overrides, unknown = _env_overrides(environ, raw)
    for key_path, value in overrides:
        _set_nested(raw, key_path, value)
        sources[".".join(key_path)] = ENV_PREFIX + "__".join(part.upper() for part in key_path)
    raw.setdefault("data_dir", str(default_data_dir(environ)))
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path, sources)) from None
    unknown -= _secret_names(settings)
    if unknown:
        raise ConfigError("; ".join(_unknown_variable(name) for name in sorted(unknown)))
    return settings


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read ({type(exc).__name__})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"config file {path} is not valid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must be a mapping of keys, not {type(data).__name__}")
    return data


def _env_overrides(
    env: Mapping[str, str], raw: Mapping[str, Any]
) -> tuple[list[tuple[list[str], Any]], set[str]]:
    """The overrides to apply, and the ``ONSHORE_…`` names that are not keys (checked once validated)."""
    known = set(Settings.model_fields)
    overrides: list[tuple[list[str], Any]] = []
    unknown: set[str] = set()
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name in NOT_SETTINGS or name.startswith(_TEST_PREFIX):
            continue
        key_path = [part.lower() for part in name[len(ENV_PREFIX) :].split("__")]
        if key_path[0] not in known:
            # Perhaps a secret that admin.token_env, security.secret_env or a backend's api_key_env
            # names: only the validated settings can tell, so the verdict waits until then.
            unknown.add(name)
            continue
        if len(key_path) == 1 and isinstance(raw.get(key_path[0]), dict):
            continue
        overrides.append((key_path, _parse_scalar(value)))
    return sorted(overrides, key=lambda item: len(item[0])), unknown


def _secret_names(settings: Settings) -> set[str]:
    names = {settings.admin.token_env, settings.security.secret_env, settings.audit.signing_key_env}
    names.update((settings.security.previous_secrets_env, settings.security.next_secret_env))
    names.update(
        b.api_key_env for b in settings.backends if isinstance(b, RemoteBackendSettings) and b.api_key_env
    )
    return names


def _unknown_variable(name: str) -> str:
    # Names only, never the value: the variable may well hold a secret with a typo in its name.
    close = difflib.get_close_matches(name, sorted(_setting_variables()) + sorted(NOT_SETTINGS), n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    return f"unknown environment variable {name}: not a configuration key{hint}"


def _setting_variables() -> Iterator[str]:
    """Every ``ONSHORE_…`` name that sets a key: ONSHORE_SERVER__PORT, ONSHORE_DATA_DIR, ..."""
    for name, field in Settings.model_fields.items():
        yield ENV_PREFIX + name.upper()
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            for child in annotation.model_fields:
                yield f"{ENV_PREFIX}{name.upper()}__{child.upper()}"


def _parse_scalar(value: str) -> Any:
    # YAML scalars: "9000" -> 9000, "true" -> True, "[a, b]" -> list; anything odd stays a string.
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    return value if parsed is None and value.strip() not in ("", "null", "~") else parsed


def _set_nested(raw: dict[str, Any], key_path: list[str], value: Any) -> None:
    node = raw
    for part in key_path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[key_path[-1]] = value


def _describe(exc: ValidationError, path: Path | None, sources: Mapping[str, str]) -> str:
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        key = ".".join(str(part) for part in error["loc"] if not str(part).startswith("function-"))
        origin = sources.get(key)
        where = f" (from {origin})" if origin else (f" (in {path})" if path else "")
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        problems.append(f"config key '{key}': {message}{where}")
    return "invalid configuration: " + "; ".join(problems)
