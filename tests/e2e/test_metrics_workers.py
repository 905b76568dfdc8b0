"""Prometheus with ``onshore serve --workers 2``: requests spread over the workers, and /metrics,
whichever worker answers, shows the sum of all of them. The Grafana dashboard and the alert rules in
deploy/observability/ name only metrics that this running gateway exports: a rename breaks this test
(promtool is not available here; the files are parsed and every ``onshore_*`` name looked up)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.scripted_engine import ScriptedEngine
from tests.support.services import ROOT, Gateway, free_port, make_gateway

pytestmark = pytest.mark.slow

DEPLOY = ROOT / "deploy" / "observability"
REQUESTS = 40
PROMPT = "The quarterly numbers of Hanbit Logistics, do not trace me"
METRIC_NAME = re.compile(r"\b(onshore_[a-z0-9_]+)\b")
_LIMITED_OK: list[int] = []  # the limited organisation's requests that were answered


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, dict[str, str], Path]]:
    engine = ScriptedEngine().start()
    tmp = tmp_path_factory.mktemp("workers")
    backend = {
        "name": "engine",
        "url": engine.url,
        "jurisdiction": "KR",
        "models": [{"name": "chat-model", "upstream_name": "echo", "max_in_flight": 16}],
    }
    dead = {"name": "dead", "url": f"http://127.0.0.1:{free_port()}/v1", "models": [{"name": "dead-model"}]}
    gw = make_gateway(
        tmp,
        [backend, dead],
        extra={
            "server": {"workers": 2},
            "audit": {"checkpoint_interval_s": 1},
            "prices": [{"model": "chat-model", "input_krw": 1000, "output_krw": 2000}],
        },
    )
    temp_dir = tmp / "gateway-tmp"  # where `serve` makes the workers' metrics directory
    temp_dir.mkdir()
    gw.env["TMPDIR"] = str(temp_dir)
    keys = {org: gw.create_key(org)[1] for org in ("acme", "limited")}
    gw.cli("limits", "set", "--org", "acme", "--monthly-budget-krw", "1000000")
    gw.cli("limits", "set", "--org", "limited", "--rpm", "1")
    gw.start()
    try:
        for key in keys.values():
            gw.wait_key_accepted(key, timeout=15)
        yield gw, keys, temp_dir
    finally:
        gw.stop()
        engine.stop()


def _chat(gw: Gateway, key: str, model: str = "chat-model", stream: bool = False) -> int:
    body = {"model": model, "messages": [{"role": "user", "content": PROMPT}], "stream": stream}
    # A new connection per request: the kernel hands each to whichever worker accepts it.
    response = httpx.post(
        gw.v1 + "/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    return response.status_code


def _scrape(gw: Gateway) -> str:
    response = httpx.get(gw.base_url + "/metrics", timeout=10)  # a new connection: any worker
    assert response.status_code == 200
    return response.text


def _sum(text: str, name: str, labels: str = "") -> float:
    pattern = rf"^{name}{{([^}}]*)}} ([0-9.e+-]+)$"
    return sum(float(v) for lab, v in re.findall(pattern, text, re.M) if labels in lab)


def _exported(text: str) -> set[str]:
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and line[0] != "#"}


@pytest.fixture(scope="module")
def metrics(served: tuple[Gateway, dict[str, str], Path]) -> list[str]:
    gw, keys, _ = served
    with ThreadPoolExecutor(8) as pool:  # in parallel, so one busy worker cannot take them all
        statuses = list(pool.map(lambda i: _chat(gw, keys["acme"], stream=i % 4 == 0), range(REQUESTS)))
    assert statuses == [200] * REQUESTS
    assert _chat(gw, keys["acme"], model="no-such-model") == 404  # an error of the organisation
    assert _chat(gw, keys["acme"], model="dead-model") == 502  # a backend's failure
    assert _chat(gw, "sk-onshore-" + "z" * 40) == 401  # refused before anyone is known
    limited = [_chat(gw, keys["limited"]) for _ in range(3)]
    assert 429 in limited  # rpm 1 (per worker, counters in memory): refused by its limit
    _LIMITED_OK.append(limited.count(200))
    time.sleep(3.0)  # the periodic audit verification (1 s) and the workers' gauge refresh (2 s)
    return [_scrape(gw) for _ in range(6)]


def test_every_worker_answers_with_the_sum_of_all_workers(
    served: tuple[Gateway, dict[str, str], Path], metrics: list[str]
) -> None:
    _, _, temp_dir = served
    (directory,) = temp_dir.glob("onshore-metrics-*")  # made fresh by this start
    pids = {re.sub(r"\D", "", p.name) for p in directory.glob("counter_*.db")}
    assert len(pids) == 2, pids  # both workers counted requests
    for text in metrics:
        assert _sum(text, "onshore_requests_total", 'status="200"') == REQUESTS + _LIMITED_OK[0]
        assert _sum(text, "onshore_org_requests_total", 'org="acme",status="200"') == REQUESTS
        assert _sum(text, "onshore_org_requests_total", 'org="acme",status="404"') == 1
        assert _sum(text, "onshore_org_errors_total", 'org="acme",type="model_not_found"') == 1
        assert _sum(text, "onshore_org_errors_total", 'org="acme",type="upstream_unavailable"') == 1
        assert _sum(text, "onshore_upstream_errors_total", 'backend="dead"') == 1
        assert _sum(text, "onshore_requests_refused_total", 'status="401"') == 1
        assert _sum(text, "onshore_request_duration_seconds_count") >= REQUESTS
        # 5 prompt tokens per request at 1,000 KRW per million, plus the answers at 2,000
        assert _sum(text, "onshore_org_cost_krw_total", 'org="acme"') > REQUESTS * 5 * 1000 / 1e6
        assert _sum(text, "onshore_backend_up", 'backend="engine"') == 1  # livemin over workers
        assert _sum(text, "onshore_backend_in_flight", 'backend="engine"') == 0
        assert re.search(r'^onshore_org_budget_used_ratio\{org="acme"\} ', text, re.M)
        assert re.search(r"^onshore_audit_chain_ok 1\.0$", text, re.M)
    assert PROMPT not in "".join(metrics)


def _alert_expressions() -> list[str]:
    rules = yaml.safe_load((DEPLOY / "prometheus-alerts.yml").read_text())
    found = []
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert rule["alert"].startswith("Onshore") and rule["labels"]["severity"]
            assert rule["annotations"]["summary"]
            found.append(rule["expr"])
    names = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    for wanted in ("BackendDown", "HighErrorRate", "LedgerBacklog", "AuditChainBroken", "BudgetNearlySpent"):
        assert "Onshore" + wanted in names
    return found


def _dashboard_expressions() -> list[str]:
    dashboard: dict[str, Any] = json.loads((DEPLOY / "grafana-onshore.json").read_text())
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"  # importable into any Grafana
    assert variables["datasource"]["query"] == "prometheus"
    found = [v["definition"] for v in variables.values() if v["type"] == "query"]
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
            found.append(target["expr"])
    return found


@pytest.mark.parametrize("source", ["alerts", "dashboard"])
def test_the_dashboard_and_the_alerts_name_only_exported_metrics(metrics: list[str], source: str) -> None:
    expressions = _alert_expressions() if source == "alerts" else _dashboard_expressions()
    named = {m for e in expressions for m in METRIC_NAME.findall(e)}
    assert len(named) >= 5
    missing = named - _exported(metrics[0])
    assert not missing, f"{source} name metrics that /metrics does not export: {sorted(missing)}"
