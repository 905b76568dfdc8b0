"""An operator's day in the console, in a real browser against a real `onshore serve`.

Log in, create an organisation and a key, watch a request made with the `openai` SDK appear in the
overview, revoke the key and watch the SDK get 401, switch to Korean, issue and open an invoice.
A screenshot of each page is kept in test-artifacts/console/.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.e2e.web.browser import browser_page, screenshot
from tests.support.services import Gateway, Upstream, make_gateway, remote_backend

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def console(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = make_gateway(
        tmp_path_factory.mktemp("console-browser"),
        [remote_backend("pool-a", upstream.url, "bench-model")],
        extra={
            "prices": [{"model": "bench-model", "input_krw": 1000, "output_krw": 3000}],
            # The capacity page sizes the test model as a real one; a small search keeps it quick.
            "planner": {"models": {"bench-model": "llama-3.1-8b"}, "gpus": ["h100"], "tensor_parallel": [1]},
        },
    )
    gw.start()
    yield gw
    gw.stop()


def sign_in(page: Any, gw: Gateway) -> None:
    page.goto(gw.base_url + "/dashboard")
    assert page.url.endswith("/dashboard/login")
    page.fill("#token", gw.admin_token)
    page.keyboard.press("Enter")  # the keyboard alone signs in
    page.wait_for_url("**/dashboard/overview")


def test_an_operators_day(console: Gateway) -> None:
    with browser_page("en-US") as page:
        sign_in(page, console)
        screenshot(page, "01-overview-empty")

        page.click("text=Organisations")
        page.fill("#org-name", "kakao-test")
        page.click("button:has-text('Create organisation')")
        page.wait_for_url("**/dashboard/orgs/kakao-test**")
        page.click("button:has-text('Create key')")
        key = page.inner_text("#new-key").strip()
        assert key.startswith("sk-")
        screenshot(page, "02-key-shown-once")
        page.reload()  # shown once: a reload does not show it again
        assert page.locator("#new-key").count() == 0

        console.wait_key_accepted(key)
        client = openai.OpenAI(base_url=console.v1, api_key=key, max_retries=0)
        reply = client.chat.completions.create(
            model="bench-model", messages=[{"role": "user", "content": "hi"}]
        )
        assert reply.choices[0].message.content

        page.goto(console.base_url + "/dashboard/overview?period=day&bucket=hour&group=org")
        deadline = time.monotonic() + 15
        while "kakao-test" not in page.inner_text("#by-group") and time.monotonic() < deadline:
            time.sleep(0.5)  # the ledger is flushed in batches
            page.reload()
        row = page.inner_text("#by-group tbody tr:first-child")
        assert row.split("\t")[:2] == ["kakao-test", "1"], row
        assert page.locator(".chart canvas, .chart .uplot").count() > 0
        screenshot(page, "03-overview-with-traffic")

        page.goto(console.base_url + "/dashboard/orgs/kakao-test")
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("button:has-text('Revoke')")
        page.wait_for_url("**done=key_revoked")
        screenshot(page, "04-key-revoked")
        with pytest.raises(openai.AuthenticationError):
            client.chat.completions.create(model="bench-model", messages=[{"role": "user", "content": "hi"}])

        page.click("button:has-text('한국어')")
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == "ko"
        assert "조직" in page.inner_text("nav")
        assert re.search(r"\d{4}년 \d{1,2}월 사용량", page.inner_text("main"))  # 2026년 12월, Korean style
        screenshot(page, "05-korean")

        for name in ("backends", "residency", "audit"):
            page.goto(f"{console.base_url}/dashboard/{name}")
            screenshot(page, f"06-{name}")
        page.click("#verify")
        assert "무결함" in page.inner_text("#verdict")
        screenshot(page, "07-audit-verified")

        page.goto(console.base_url + "/dashboard/invoices")
        screenshot(page, "08-invoices")
        page.select_option("#invoice-org", "kakao-test")
        page.click("#invoice-preview")
        text = page.inner_text("body")
        assert re.search(r"₩[\d,]+", text) and "kakao-test" in text
        screenshot(page, "09-invoice")

        page.goto(console.base_url + "/dashboard/capacity")
        page.fill("#cap-month", time.strftime("%Y-%m", time.gmtime()))
        page.fill("#cap-growth", "20")
        page.click("#cap-run")
        page.wait_for_selector("#capacity-summary", timeout=120_000)
        summary = page.inner_text("#capacity-summary")
        assert "최대 부하" in summary  # the busiest hour of the month, in Korean
        assert re.search(r"GPU 수\s+[1-9]", summary), summary  # a fleet was sized
        screenshot(page, "10-capacity")
