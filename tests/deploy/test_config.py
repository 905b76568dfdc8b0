"""The configuration each overlay gives the gateway, loaded by onshore's own loader exactly as a pod
sees it: the ConfigMap's onshore.yaml at the path ONSHORE_CONFIG names, the image's environment,
and the container's env (secrets stand in with values of the right shape)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from onshore.config.loading import load_settings
from onshore.config.settings import RemoteBackendSettings, Settings
from onshore.errors import ConfigError
from tests.deploy.artifacts import OVERLAYS, config_map_data, dockerfile_stages, env_pairs, one, rendered

# What each Secret key holds, in a shape the loader accepts (never a real value).
STAND_INS = {
    "database-url": "postgresql://onshore:stand-in@onshore-postgresql:5432/onshore",
    "redis-url": "redis://:stand-in@onshore-redis:6379/0",
}


def _image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for args in dockerfile_stages()[-1].all("ENV"):
        env.update(env_pairs(args))
    return env


def _container_env(spec: dict[str, Any], config_dir: Path) -> dict[str, str]:
    """The env of the pod's first container, with the config mount moved to ``config_dir``."""
    (container, *_) = spec["containers"]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "config")
    env = _image_env()
    for variable in container["env"]:
        if "value" in variable:
            value = variable["value"]
            if variable["name"] == "ONSHORE_CONFIG":
                # The file must be the one the ConfigMap mount provides.
                assert Path(value).parent == Path(mount["mountPath"]), value
                value = str(config_dir / Path(value).name)
            env[variable["name"]] = value
        else:
            ref = variable["valueFrom"]["secretKeyRef"]
            env[variable["name"]] = STAND_INS.get(ref["key"], "stand-in-" + "x" * 40)
    return env


def _load(overlay: str, workload: str, kind: str, tmp_path: Path) -> tuple[Settings, list[dict[str, Any]]]:
    docs = rendered(overlay)
    config_map = config_map_data(docs)
    (name,) = config_map["data"]
    (tmp_path / name).write_text(config_map["data"][name], encoding="utf-8")
    spec = one(docs, kind, workload)["spec"]["template"]["spec"]
    volume = next(v for v in spec["volumes"] if v["name"] == "config")
    assert volume["configMap"]["name"] == config_map["metadata"]["name"]
    return load_settings(env=_container_env(spec, tmp_path)), docs


@pytest.mark.parametrize("overlay", ["base", *OVERLAYS])
def test_the_gateway_pod_s_configuration_is_valid(overlay: str, tmp_path: Path) -> None:
    settings, docs = _load(overlay, "onshore", "Deployment", tmp_path)
    container = one(docs, "Deployment", "onshore")["spec"]["template"]["spec"]["containers"][0]
    assert settings.server.host == "0.0.0.0"  # a pod listens on its own interface
    assert settings.server.port == container["ports"][0]["containerPort"]
    assert settings.server.workers == 1  # scale by replicas: one process per pod
    assert settings.database_url.startswith("postgresql://")
    assert settings.database.auto_migrate is False  # the migration Job runs `onshore db upgrade`
    assert settings.limits.store == "redis" and settings.redis.url is not None
    assert str(settings.data_dir) == "/var/lib/onshore"
    assert settings.logging.format == "json"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_backend_is_a_service_the_overlay_renders_with_its_key_provided(
    overlay: str, tmp_path: Path
) -> None:
    settings, docs = _load(overlay, "onshore", "Deployment", tmp_path)
    services = {d["metadata"]["name"] for d in docs if d["kind"] == "Service"}
    env = {
        v["name"]
        for v in one(docs, "Deployment", "onshore")["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    remote = [b for b in settings.backends if isinstance(b, RemoteBackendSettings)]
    assert remote, "an overlay serves at least one engine"
    for backend in remote:
        assert urlsplit(str(backend.url)).hostname in services, backend.url
        if backend.api_key_env:
            assert backend.api_key_env in env, backend.api_key_env


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_migration_job_loads_the_same_configuration(overlay: str, tmp_path: Path) -> None:
    settings, docs = _load(overlay, "onshore-db-upgrade", "Job", tmp_path)
    assert settings.database_url.startswith("postgresql://")
    job = one(docs, "Job", "onshore-db-upgrade")["spec"]["template"]["spec"]["containers"][0]
    assert job["args"] == ["db", "upgrade"]


def test_a_bad_key_in_an_overlay_would_fail_this_test(tmp_path: Path) -> None:
    """The loader really judges the file: a misspelt key is an error, not a default."""
    (tmp_path / "onshore.yaml").write_text("server:\n  hots: 0.0.0.0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"server\.hots"):
        load_settings(env={"ONSHORE_CONFIG": str(tmp_path / "onshore.yaml"), "HOME": str(tmp_path)})
