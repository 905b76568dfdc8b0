"""The image, without a Docker engine: the Dockerfile's invariants, its agreement with
scripts/install.sh and with onshore's own configuration loader, and checkov's Dockerfile scan."""

from __future__ import annotations

import re
import tomllib
from pathlib import PurePosixPath

import pytest

from onshore.config.loading import NOT_SETTINGS, load_settings
from onshore.config.settings import ServerSettings
from tests.deploy.artifacts import (
    ROOT,
    Stage,
    dockerfile_stages,
    env_pairs,
    exec_form,
    pip_installs,
    run_checkov,
)

STAGES = dockerfile_stages()
RUNTIME = STAGES[-1]
BUILDER = STAGES[0]
INSTALL_SH = (ROOT / "scripts" / "install.sh").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _env(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for args in stage.all("ENV"):
        env.update(env_pairs(args))
    return env


def _under(path: str, directories: list[str]) -> bool:
    return any(PurePosixPath(path).is_relative_to(directory) for directory in directories)


def test_two_stages_on_one_pinned_slim_base() -> None:
    assert len(STAGES) == 2
    assert BUILDER.alias == "builder" and RUNTIME.alias is None
    # The venv's python is a link into the base image: both stages must be the same one.
    assert BUILDER.base == RUNTIME.base
    name, _, tag = RUNTIME.base.partition(":")
    assert name == "python"
    assert re.fullmatch(r"3\.11\.\d+-slim-bookworm", tag), f"{RUNTIME.base}: pin the patch release"
    assert "latest" not in RUNTIME.base


def test_runtime_runs_as_a_fixed_non_root_user() -> None:
    users = RUNTIME.all("USER")
    assert users, "no USER in the runtime stage"
    uid, _, gid = users[-1].partition(":")
    # Numeric, so Kubernetes' runAsNonRoot can check it; the manifests use the same (test_manifests).
    assert uid.isdigit() and int(uid) >= 10000 and gid == uid
    assert any(f"--uid {uid}" in run for run in RUNTIME.all("RUN"))
    assert not RUNTIME.all("ADD")


def test_read_only_root_filesystem_needs_only_the_volumes() -> None:
    env = _env(RUNTIME)
    volumes = exec_form(RUNTIME.all("VOLUME")[-1])
    assert env["ONSHORE_DATA_DIR"] in volumes and "/tmp" in volumes
    for name in ("HOME", "TMPDIR", "PROMETHEUS_MULTIPROC_DIR", "ONSHORE_DATA_DIR"):
        assert _under(env[name], volumes), f"{name}={env[name]} is not on a volume"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert RUNTIME.all("WORKDIR")[-1] in volumes
    # The venv is compiled at build time, so nothing needs writing beside the code.
    assert any("compileall" in run for run in BUILDER.all("RUN"))


def test_the_image_environment_is_a_valid_onshore_configuration() -> None:
    """Every ONSHORE_* the image sets is a key or a documented name: the loader rejects anything else."""
    env = _env(RUNTIME)
    settings = load_settings(env=env)
    assert str(settings.data_dir) == env["ONSHORE_DATA_DIR"]
    assert all(name not in NOT_SETTINGS for name in env), "no secret or config path baked into the image"


def test_serves_on_the_exposed_port_with_a_python_healthcheck() -> None:
    port = ServerSettings().port
    assert RUNTIME.all("EXPOSE") == [str(port)]
    command = exec_form(RUNTIME.all("ENTRYPOINT")[-1]) + exec_form(RUNTIME.all("CMD")[-1])
    assert command == ["onshore", "serve", "--host", "0.0.0.0"]
    healthcheck = RUNTIME.all("HEALTHCHECK")[-1]
    options, _, probe = healthcheck.partition(" CMD ")
    assert "--timeout=" in options and "--start-period=" in options
    argv = exec_form(probe)
    assert argv[:2] == ["python", "-c"]  # the slim image has no curl
    assert f"http://127.0.0.1:{port}/healthz" in argv[2]
    compile(argv[2], "<healthcheck>", "exec")


def test_the_pip_commands_are_install_sh_s() -> None:
    """The builder installs as scripts/install.sh does: pinned by constraints.txt, models --no-deps."""
    ours = pip_installs(" ".join(BUILDER.all("RUN")))
    theirs = pip_installs(INSTALL_SH)
    assert len(ours) == len(theirs) == 2

    def flags(words: list[str]) -> set[str]:
        pairs = {f"-c {words[i + 1]}" for i, word in enumerate(words) if word == "-c"}
        return pairs | {w for w in words if w in ("--no-deps", "-e", "--user", "--pre")}

    (project, models), (project_sh, models_sh) = ours, theirs
    assert flags(project) == flags(project_sh) - {"-e"} == {"-c constraints.txt"}  # built, not editable
    assert flags(models) == flags(models_sh) == {"-c constraints.txt", "--no-deps"}
    assert project[-1].startswith(".") and models[-1] == "${MODEL_PACKAGES}"

    packages_sh = re.search(r"^MODEL_PACKAGES=\((.*)\)$", INSTALL_SH, re.MULTILINE)
    assert packages_sh is not None
    args = dict(arg.split("=", 1) for arg in BUILDER.all("ARG") if "=" in arg)
    assert args["MODEL_PACKAGES"].strip('"').split() == packages_sh.group(1).split()
    # The optional extra it installs is one pyproject declares; the dev tools never enter the image.
    assert (
        "[llama]" in " ".join(BUILDER.all("RUN")) and "llama" in PYPROJECT["project"]["optional-dependencies"]
    )
    assert not re.search(r"\.\[[^]]*dev", " ".join(BUILDER.all("RUN")))
    assert args["WITH_MODELS"] == "false" and args["WITH_LLAMA"] == "false"


def test_every_pinned_package_the_builder_names_is_in_constraints() -> None:
    pinned = {
        line.split("==")[0].lower().replace("_", "-")
        for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
        if "==" in line
    }
    args = dict(arg.split("=", 1) for arg in BUILDER.all("ARG") if "=" in arg)
    for package in args["MODEL_PACKAGES"].strip('"').split():
        assert package.lower() in pinned


def test_oci_labels_and_license() -> None:
    labels = " ".join(RUNTIME.all("LABEL"))
    for key in ("title", "description", "version", "revision", "licenses", "base.name"):
        assert f"org.opencontainers.image.{key}=" in labels
    assert f'org.opencontainers.image.licenses="{PYPROJECT["project"]["license"]}"' in labels
    assert RUNTIME.base in labels
    license_text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License\n                           Version 2.0, January 2004" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text


def test_the_build_context_holds_what_the_builder_copies_and_nothing_else() -> None:
    rules = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*", "an allow-list: a local .venv, database or secret never enters the context"
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    copied = set()
    for stage in STAGES:
        for args in stage.all("COPY"):
            if args.startswith("--from="):
                continue
            copied.update(args.split()[:-1])
    assert copied == allowed
    for path in copied:
        assert (ROOT / path).exists(), path


@pytest.mark.slow
def test_checkov_finds_nothing_in_the_dockerfile() -> None:
    report = run_checkov(ROOT / "Dockerfile", "dockerfile")
    failed = report["results"]["failed_checks"]
    assert not failed, [(c["check_id"], c["check_name"]) for c in failed]
    assert report["summary"]["passed"] >= 10  # it really ran the Dockerfile checks
