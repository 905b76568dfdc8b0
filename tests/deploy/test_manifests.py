"""The Kubernetes manifests, rendered as the cluster gets them: schemas, security, checkov, and the
few facts that tie them to the gateway (ports, probes, drain time, paths, secrets)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from onshore.config.settings import ServerSettings
from tests.deploy.artifacts import (
    KUBERNETES_VERSION,
    OVERLAYS,
    ROOT,
    dockerfile_stages,
    one,
    rendered,
    rendered_text,
    run_checkov,
)

GATEWAY_LABELS = {"app.kubernetes.io/name": "onshore", "app.kubernetes.io/component": "gateway"}
# What the partners' Ingress must route, and what it must not (README "API").
PUBLIC = ["/v1/chat/completions", "/v1/embeddings", "/v1/models", "/v1/responses/r1", "/rerank", "/healthz"]
INTERNAL = ["/admin/v1/orgs", "/admin", "/console", "/console/usage", "/metrics", "/readyz", "/"]


def _pod_specs(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{d['kind']}/{d['metadata']['name']}", d["spec"]["template"]["spec"])
        for d in docs
        if d["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job")
    ]


def _gateway(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return one(docs, "Deployment", "onshore")["spec"]["template"]["spec"]


@pytest.mark.parametrize("overlay", ["base", *OVERLAYS])
def test_every_document_is_valid_against_kubernetes_schemas(overlay: str) -> None:
    """Strict (unknown fields are errors) against the schemas of a fixed Kubernetes release, offline.

    No CRD is rendered by any overlay (CloudNativePG's Cluster lives in the README only): a kind
    without a built-in schema would raise SchemaNotFoundError here rather than pass unchecked.
    """
    docs = rendered(overlay)
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_are_locked_down(overlay: str) -> None:
    for where, spec in _pod_specs(rendered(overlay)):
        assert spec["automountServiceAccountToken"] is False, where
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["seccompProfile"]["type"] == "RuntimeDefault", where
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            assert "add" not in context["capabilities"], where
            assert container["resources"]["limits"] and container["resources"]["requests"], where
            assert ":" in container["image"] and not container["image"].endswith(":latest"), where


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gateway_runs_as_the_image_user_with_its_volumes(overlay: str) -> None:
    runtime = dockerfile_stages()[-1]
    uid = runtime.all("USER")[-1].split(":")[0]
    spec = _gateway(rendered(overlay))
    assert spec["securityContext"]["runAsUser"] == int(uid)
    mounts = {m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
    # The image's volumes (data dir, /tmp) must be writable volumes in the pod too.
    volumes = yaml.safe_load(runtime.all("VOLUME")[-1])
    assert set(volumes) <= mounts


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_ports_and_grace_period_fit_the_gateway(overlay: str) -> None:
    docs = rendered(overlay)
    spec = _gateway(docs)
    (container,) = spec["containers"]
    port = container["ports"][0]
    assert port["containerPort"] == ServerSettings().port and port["name"] == "http"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    # On SIGTERM the gateway keeps serving for server.drain_delay_s while /readyz says 503 and the
    # endpoints update, then drains for server.drain_s; SIGKILL must not come before both (the
    # defaults; before those keys existed, uvicorn's fixed 30 s graceful shutdown).
    server = ServerSettings()
    drain = float(getattr(server, "drain_delay_s", 0.0)) + float(getattr(server, "drain_s", 30.0))
    assert spec["terminationGracePeriodSeconds"] > drain + 5
    assert "preStop" not in container.get("lifecycle", {}), "the app's own drain replaces a preStop sleep"
    service = one(docs, "Service", "onshore")
    assert service["spec"]["selector"] == GATEWAY_LABELS
    assert service["spec"]["ports"][0]["targetPort"] == "http"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_only_by_reference(overlay: str) -> None:
    docs = rendered(overlay)
    assert not [d for d in docs if d["kind"] == "Secret"], (
        "no Secret is committed; the README says how to make them"
    )
    for where, spec in _pod_specs(docs):
        for container in spec["containers"]:
            for variable in container.get("env", []):
                sensitive = any(w in variable["name"] for w in ("SECRET", "TOKEN", "KEY", "URL"))
                if sensitive and variable["name"] != "ONSHORE_CONFIG":
                    assert "secretKeyRef" in variable.get("valueFrom", {}), f"{where}: {variable['name']}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_scaling_and_disruption(overlay: str) -> None:
    docs = rendered(overlay)
    hpa = one(docs, "HorizontalPodAutoscaler", "onshore")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "onshore"}
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"
    replicas = one(docs, "Deployment", "onshore")["spec"]["replicas"]
    assert hpa["minReplicas"] <= replicas <= hpa["maxReplicas"]
    pdb = one(docs, "PodDisruptionBudget", "onshore")["spec"]
    assert pdb["selector"]["matchLabels"] == GATEWAY_LABELS and pdb["maxUnavailable"] == 1
    if overlay == "production":
        assert hpa["minReplicas"] >= 3 and hpa["maxReplicas"] > hpa["minReplicas"]
        spread = _gateway(docs)["topologySpreadConstraints"]
        assert {c["topologyKey"] for c in spread} == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    else:
        assert replicas == 1


def _routed(ingress: dict[str, Any], path: str) -> bool:
    for rule in ingress["spec"]["rules"]:
        for entry in rule["http"]["paths"]:
            prefix = entry["path"].rstrip("/")
            if entry["pathType"] == "Exact" and path == entry["path"]:
                return True
            # Kubernetes' Prefix matches whole path elements: /v1 matches /v1 and /v1/x, not /v10.
            if entry["pathType"] == "Prefix" and (path == prefix or path.startswith(prefix + "/")):
                return True
    return False


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_ingress_routes_only_the_partner_api(overlay: str) -> None:
    ingress = one(rendered(overlay), "Ingress", "onshore")
    for path in PUBLIC:
        assert _routed(ingress, path), path
    for path in INTERNAL:
        assert not _routed(ingress, path), path


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policy_admits_only_the_ingress_controller_and_monitoring(overlay: str) -> None:
    docs = rendered(overlay)
    policy = one(docs, "NetworkPolicy", "onshore-gateway")["spec"]
    assert policy["podSelector"]["matchLabels"] == GATEWAY_LABELS
    (rule,) = policy["ingress"]
    namespaces = {
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for peer in rule["from"]
    }
    assert namespaces == {"ingress-nginx", "monitoring"}
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    # Every pod the overlay runs is selected by some policy (default-deny per pod).
    selectors = [d["spec"]["podSelector"]["matchLabels"] for d in docs if d["kind"] == "NetworkPolicy"]
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            labels = doc["spec"]["template"]["metadata"]["labels"]
            assert any(selector.items() <= labels.items() for selector in selectors), doc["metadata"]["name"]


def test_the_vllm_engine_is_on_gpu_nodes_and_the_gateway_points_at_it() -> None:
    docs = rendered("production")
    spec = one(docs, "Deployment", "vllm")["spec"]["template"]["spec"]
    (engine,) = spec["containers"]
    assert (
        engine["resources"]["limits"]["nvidia.com/gpu"] == engine["resources"]["requests"]["nvidia.com/gpu"]
    )
    assert spec["nodeSelector"] and any(t["key"] == "nvidia.com/gpu" for t in spec["tolerations"])
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert engine[probe]["httpGet"]["path"] == "/health"
    assert one(docs, "Service", "vllm")["spec"]["ports"][0]["port"] == 8000


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_checkov_skips_carry_reasons(overlay: str) -> None:
    for doc in rendered(overlay):
        for key, value in doc["metadata"].get("annotations", {}).items():
            if key.startswith("checkov.io/skip"):
                check, sep, reason = value.partition("=")
                assert sep and check.startswith("CKV") and len(reason) > 40 and "=" not in reason, value


@pytest.mark.slow
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_checkov_finds_nothing_in_the_rendered_manifests(overlay: str, tmp_path: Path) -> None:
    """checkov offline reports no severities, so every failed check counts; skips are annotations
    with a reason in the manifests themselves (test_checkov_skips_carry_reasons)."""
    target = tmp_path / f"{overlay}.yaml"
    target.write_text(rendered_text(overlay), encoding="utf-8")
    report = run_checkov(target, "kubernetes")
    failed = report["results"]["failed_checks"]
    assert not failed, [(c["check_id"], c["resource"], c["check_name"]) for c in failed]
    assert report["summary"]["passed"] >= 100
    skipped = {c["check_id"] for c in report["results"]["skipped_checks"]}
    assert skipped <= {"CKV_K8S_35", "CKV_K8S_43"}, skipped


def test_no_file_under_deploy_holds_a_secret_value() -> None:
    for path in (ROOT / "deploy" / "kubernetes").rglob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(doc, dict):
                assert doc.get("kind") != "Secret" and "stringData" not in doc, path
