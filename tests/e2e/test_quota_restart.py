"""A monthly KRW budget survives a restart: the in-process counters come back empty, and the gateway
raises them to the ledger's totals for the month before serving, so the budget goes on from where it
was, not from 0 (a real ``onshore serve`` on SQLite, stopped and started on the same data dir)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.support.services import Gateway, Upstream, make_gateway, remote_backend

BUDGET_KRW = 12
# 100,000 KRW per million tokens: a request of a few dozen tokens costs a few won.
PRICE = {"model": "bench-model", "input_krw": 100_000, "output_krw": 100_000, "effective_from": "2020-01-01"}
BODY = {"model": "bench-model", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 16}


def spend_until_refused(gw: Gateway, key: str, most: int = 30) -> int:
    """Requests answered before the first refusal, which must be for the spent budget."""
    for answered in range(most):
        response = httpx.post(
            gw.v1 + "/chat/completions", json=BODY, headers={"Authorization": f"Bearer {key}"}, timeout=10
        )
        if response.status_code == 429:
            assert response.json()["error"]["code"] == "insufficient_quota", response.text
            return answered
        assert response.status_code == 200, response.text
    raise AssertionError(f"{most} requests were answered: the budget never bound")


def spent_krw(gw: Gateway, org: str) -> float:
    return float(json.loads(gw.cli("usage", "--org", org, "--json").stdout)["cost_krw"])


def test_a_budget_goes_on_from_where_it_was_after_a_restart(upstream: Upstream, tmp_path: Path) -> None:
    gw = make_gateway(
        tmp_path, [remote_backend("pool", upstream.url, "bench-model")], extra={"prices": [PRICE]}
    )
    _, key = gw.create_key("restarted")
    _, control_key = gw.create_key("control")  # the same budget, first spent after the restart
    for org in ("restarted", "control"):
        gw.cli("limits", "set", "--org", org, "--monthly-budget-krw", str(BUDGET_KRW))
    gw.start()
    try:
        gw.wait_key_accepted(key)
        for _ in range(2):  # spend part of the budget
            response = httpx.post(
                gw.v1 + "/chat/completions", json=BODY, headers={"Authorization": f"Bearer {key}"}, timeout=10
            )
            assert response.status_code == 200, response.text
        gw.stop()  # the ledger is flushed; the in-process counters are gone
        spent_before = spent_krw(gw, "restarted")
        assert 0 < spent_before < BUDGET_KRW / 2

        gw.start()
        gw.wait_key_accepted(key)
        after_restart = spend_until_refused(gw, key)
        fresh = spend_until_refused(gw, control_key)
    finally:
        gw.stop()

    # From 0 the restarted organisation would have been answered as often as the control one.
    assert fresh >= 3 and after_restart <= fresh - 1, (after_restart, fresh)
    # Over the month, never more than the budget and one reservation (prompt bytes / 3 + max_tokens).
    one_reservation = (len(json.dumps(BODY)) / 3 + 16) * 0.1
    assert spent_krw(gw, "restarted") <= BUDGET_KRW + one_reservation
    assert "Traceback" not in gw.log_text()
