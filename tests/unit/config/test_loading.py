from __future__ import annotations

from pathlib import Path

import pytest

from onshore.config.loading import load_settings
from onshore.errors import ConfigError


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "onshore.yaml"
    path.write_text(text)
    return path


def test_no_file_gives_working_defaults(tmp_path: Path) -> None:
    settings = load_settings(None, {"ONSHORE_DATA_DIR": str(tmp_path)})
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 8080)
    assert settings.database_url == f"sqlite:///{tmp_path / 'onshore.db'}"
    assert settings.redis.url is None
    # The one default backend: all-MiniLM-L6-v2 served in process.
    assert [(b.kind, [m.name for m in b.models]) for b in settings.backends] == [
        ("embeddings", ["all-minilm-l6-v2"])
    ]


def test_an_empty_backend_list_serves_nothing(tmp_path: Path) -> None:
    path = _write(tmp_path, "backends: []\n")
    assert load_settings(path, {}).backends == []


def test_precedence_env_over_file_over_defaults(tmp_path: Path) -> None:
    path = _write(tmp_path, "server:\n  port: 9000\n  host: 0.0.0.0\n")
    settings = load_settings(path, {"ONSHORE_SERVER__PORT": "9100", "ONSHORE_DATA_DIR": str(tmp_path)})
    assert settings.server.port == 9100 and settings.server.host == "0.0.0.0"


def test_config_path_from_environment(tmp_path: Path) -> None:
    path = _write(tmp_path, "server:\n  port: 9001\n")
    settings = load_settings(None, {"ONSHORE_CONFIG": str(path), "ONSHORE_DATA_DIR": str(tmp_path)})
    assert settings.server.port == 9001


def test_backends_and_aliases(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
backends:
  - name: gpu-pool-a
    url: http://10.0.0.5:8000/v1
    api_key_env: POOL_A_KEY
    models:
      - name: llama-3.1-8b
        upstream_name: meta-llama/Llama-3.1-8B-Instruct
""",
    )
    backend = load_settings(path, {}).backends[0]
    assert backend.kind == "openai" and backend.models[0].upstream_name == "meta-llama/Llama-3.1-8B-Instruct"


@pytest.mark.parametrize(
    ("text", "env", "needle"),
    [
        ("server:\n  port: 70000\n", {}, "server.port"),
        ("server:\n  prot: 1\n", {}, "server.prot"),
        ("backends:\n  - name: a\n    url: not a url\n    models: [{name: m}]\n", {}, "backends.0"),
        (
            "backends:\n  - {name: a, url: 'http://x/v1', models: [{name: m}]}\n"
            "  - {name: a, url: 'http://y/v1', models: [{name: m}]}\n",
            {},
            "used twice",
        ),
        ("", {"ONSHORE_SERVER__PORT": "abc"}, "ONSHORE_SERVER__PORT"),
        ("server: [1\n", {}, "not valid YAML"),
        ("- 1\n", {}, "mapping"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, text: str, env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(_write(tmp_path, text), env)
    assert needle in info.value.message


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.yaml", {})


def test_secret_env_values_never_appear_in_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(_write(tmp_path, "server:\n  port: 0\n"), {"ONSHORE_ADMIN_TOKEN": "super-secret"})
    assert "super-secret" not in info.value.message


def test_a_misspelt_variable_is_an_error_with_a_suggestion(tmp_path: Path) -> None:
    # Issue 15: ONSHORE_SERVER_PORT (one underscore) was ignored and the gateway took port 8080.
    with pytest.raises(ConfigError) as caught:
        load_settings(None, {"ONSHORE_DATA_DIR": str(tmp_path), "ONSHORE_SERVER_PORT": "9000"})
    message = caught.value.message
    assert "ONSHORE_SERVER_PORT" in message and "did you mean ONSHORE_SERVER__PORT?" in message
    assert "9000" not in message  # the value is never echoed: it could be a secret
    with pytest.raises(ConfigError, match="ONSHORE_ADMIN_TOKEN"):
        load_settings(None, {"ONSHORE_DATA_DIR": str(tmp_path), "ONSHORE_ADMN_TOKEN": "x"})


def test_documented_non_setting_variables_are_allowed(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "admin: {token_env: ONSHORE_OPS_TOKEN}\n"
        "backends:\n"
        "  - {name: a, url: 'http://10.0.0.5/v1', api_key_env: ONSHORE_POOL_KEY, models: [{name: m}]}\n",
    )
    env = {
        "ONSHORE_DATA_DIR": str(tmp_path),
        "ONSHORE_VENV": "/opt/venv",
        "ONSHORE_EXTRAS": "dev",
        "ONSHORE_SECRET": "s" * 32,
        "ONSHORE_ADMIN_TOKEN": "t",
        "ONSHORE_OPS_TOKEN": "t",
        "ONSHORE_POOL_KEY": "k",
        "ONSHORE_TEST_POSTGRES_URL": "postgresql://x",
    }
    assert load_settings(path, env).admin.token_env == "ONSHORE_OPS_TOKEN"


def test_jurisdictions_of_the_gateway_and_its_backends(tmp_path: Path) -> None:
    from onshore.backends.registry import build_routes

    path = _write(
        tmp_path,
        """
server: {jurisdiction: kr}
backends:
  - {name: seoul, url: "http://10.0.0.1:8000/v1", jurisdiction: KR, operator: kt-cloud, models: [{name: m}]}
  - {name: tokyo, url: "http://10.1.0.1:8000/v1", jurisdiction: jp, models: [{name: m}]}
  - {name: plain, url: "http://10.2.0.1:8000/v1", models: [{name: m}]}
  - {name: local, kind: embeddings, jurisdiction: KR, models: [{name: e}]}
""",
    )
    settings = load_settings(path, {"ONSHORE_DATA_DIR": str(tmp_path)})
    assert settings.server.jurisdiction == "KR"
    routes = build_routes(settings.backends, settings.server.jurisdiction)
    assert [(r.backend, r.jurisdiction, r.operator) for r in routes] == [
        ("seoul", "KR", "kt-cloud"),
        ("tokyo", "JP", None),
        ("plain", "KR", None),
        ("local", "KR", None),
    ]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("server: {jurisdiction: Korea}\n", "server.jurisdiction"),
        (
            'backends: [{name: a, url: "http://h/v1", jurisdiction: K1, models: [{name: m}]}]\n',
            "jurisdiction",
        ),
        (
            "backends: [{name: e, kind: embeddings, jurisdiction: JP, models: [{name: e}]}]\n",
            "runs inside the gateway",
        ),
    ],
)
def test_bad_jurisdictions_are_refused(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load_settings(_write(tmp_path, text), {"ONSHORE_DATA_DIR": str(tmp_path)})
