"""Read the configuration once: YAML file, then ``ONSHORE_…`` environment overrides, then validate.

Precedence (highest first): environment variables, the YAML file, the defaults in ``settings.py``.
``ONSHORE_SERVER__PORT=9000`` sets ``server.port``; ``ONSHORE_DATA_DIR`` sets ``data_dir``.
Errors name the bad key and where it came from, and never echo a secret's value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from onshore.config.settings import Settings
from onshore.errors import ConfigError

ENV_PREFIX = "ONSHORE_"
CONFIG_ENV = "ONSHORE_CONFIG"
# Environment variables with our prefix that are not configuration keys.
_NOT_KEYS = frozenset({"CONFIG"})


def default_data_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "onshore"


def config_path_from(flag: str | Path | None, env: Mapping[str, str]) -> Path | None:
    value = str(flag) if flag else env.get(CONFIG_ENV)
    return Path(value).expanduser() if value else None


def load_settings(config: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Build validated settings from an optional YAML file and the environment."""
    environ = os.environ if env is None else env
    path = config_path_from(config, environ)
    raw: dict[str, Any] = _read_yaml(path) if path is not None else {}
    sources: dict[str, str] = {}
    for key_path, value in _env_overrides(environ, raw):
        _set_nested(raw, key_path, value)
        sources[".".join(key_path)] = ENV_PREFIX + "__".join(part.upper() for part in key_path)
    raw.setdefault("data_dir", str(default_data_dir(environ)))
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path, sources)) from None


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


def _env_overrides(env: Mapping[str, str], raw: Mapping[str, Any]) -> list[tuple[list[str], Any]]:
    known = set(Settings.model_fields)
    overrides: list[tuple[list[str], Any]] = []
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX) :]
        if rest in _NOT_KEYS or not rest:
            continue
        key_path = [part.lower() for part in rest.split("__")]
        if key_path[0] not in known:
            continue  # e.g. ONSHORE_ADMIN_TOKEN: a secret named by admin.token_env, not a key
        if len(key_path) == 1 and isinstance(raw.get(key_path[0]), dict):
            continue
        overrides.append((key_path, _parse_scalar(value)))
    return sorted(overrides, key=lambda item: len(item[0]))


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
