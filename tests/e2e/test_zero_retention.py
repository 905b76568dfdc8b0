"""Zero retention: a canary prompt and a canary identifier sent through every endpoint, in every way a
request can end, appear afterwards in no log line, no database column, no spool and no file under the
data directory or the gateway's temp directory.

The gateway runs with DEBUG logging and the access log on, so nothing hides behind a log level, and
with the personal-data policy ``detect`` on one organisation and ``block`` on another, so the policy's
own paths (counts to the ledger and the audit log, a refusal naming the types) are covered too.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.support.scripted_engine import ScriptedEngine
from tests.support.services import Gateway, make_gateway, remote_backend

pytestmark = pytest.mark.slow

_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)


def canary_rrn(rng: random.Random) -> str:
    """A valid pre-2020 resident registration number nobody else uses in these tests."""
    while True:
        digits = [
            *map(int, f"{rng.randint(60, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"),
            rng.choice((1, 2)),
            *[rng.randint(0, 9) for _ in range(5)],
        ]
        check = (11 - sum(w * d for w, d in zip(_WEIGHTS, digits, strict=False)) % 11) % 10
        number = "".join(map(str, digits)) + str(check)
        if number[6:] != "1234568":
            return f"{number[:6]}-{number[6:]}"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, ScriptedEngine, Path]]:
    engine = ScriptedEngine().start()
    tmp = tmp_path_factory.mktemp("retention")
    gw = make_gateway(
        tmp,
        [remote_backend("engine", engine.url, "echo", "normal", "flat-400", "bench-embed")],
        extra={"logging": {"level": "DEBUG"}, "server": {"access_log": True}},
    )
    temp_dir = tmp / "gateway-tmp"
    temp_dir.mkdir()
    gw.env["TMPDIR"] = str(temp_dir)
    gw.start()
    yield gw, engine, temp_dir
    gw.stop()
    engine.stop()


def _everything(gw: Gateway, key: str, text: str) -> None:
    sdk = openai.OpenAI(base_url=gw.v1, api_key=key, max_retries=0)
    messages = [{"role": "user", "content": text}]
    sdk.chat.completions.create(model="echo", messages=messages)  # type: ignore[arg-type]
    for _ in sdk.chat.completions.create(model="echo", messages=messages, stream=True):  # type: ignore[arg-type]
        pass
    sdk.completions.create(model="normal", prompt=text)
    sdk.embeddings.create(model="bench-embed", input=[text, text])
    parts = [{"role": "user", "content": [{"type": "text", "text": text}]}]
    sdk.chat.completions.create(model="echo", messages=parts)  # type: ignore[arg-type]
    for model, error in (("flat-400", openai.BadRequestError), ("no-such-model", openai.NotFoundError)):
        with pytest.raises(error):
            sdk.chat.completions.create(model=model, messages=messages)  # type: ignore[arg-type]
    # malformed, unauthenticated and oversized requests carrying the text
    raw = httpx.post(
        gw.v1 + "/chat/completions",
        json={"model": "echo", "messages": messages, "temperature": text},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert raw.status_code == 400
    assert (
        httpx.post(gw.v1 + "/chat/completions", json={"model": "echo", "messages": messages}).status_code
        == 401
    )
    broken = b'{"model": "echo", "messages": [{"role": "user", "content": "' + text.encode() + b'"'
    assert (
        httpx.post(
            gw.v1 + "/chat/completions", content=broken, headers={"Authorization": f"Bearer {key}"}
        ).status_code
        == 400
    )


def test_a_canary_leaves_no_trace(setup: tuple[Gateway, ScriptedEngine, Path]) -> None:
    gw, engine, temp_dir = setup
    rng = random.Random(uuid.uuid4().int)
    identifier = canary_rrn(rng)
    prompt = "canary-prompt-" + uuid.uuid4().hex
    text = f"{prompt} 주민등록번호 {identifier} 입니다"

    _, plain = gw.create_key("retention-plain")
    _, detecting = gw.create_key("retention-detect")
    _, blocked = gw.create_key("retention-block")
    for org, mode in (("retention-detect", "detect"), ("retention-block", "block")):
        response = httpx.put(
            f"{gw.base_url}/admin/v1/orgs/{org}/policy",
            json={"pii": mode},
            headers={"Authorization": f"Bearer {gw.admin_token}"},
        )
        assert response.status_code == 200, response.text
    time.sleep(0.3)  # every replica has the policies (one here, but the poll is 0.1 s)

    _everything(gw, plain, text)
    _everything(gw, detecting, text)
    with pytest.raises(openai.BadRequestError):
        openai.OpenAI(base_url=gw.v1, api_key=blocked, max_retries=0).chat.completions.create(
            model="echo", messages=[{"role": "user", "content": text}]
        )
    assert prompt.encode() in b"".join(engine.bodies)  # the canary did travel (policy off): the test can fail

    gw.cli("audit", "list", "--json")  # the audit trail is readable; its rows are in the database file
    gw.stop()  # flushes the ledger and the audit log, closes the database
    needles = [prompt.encode(), identifier.encode(), identifier.replace("-", "").encode()]
    leaks = [
        str(path)
        for root in (gw.data_dir, temp_dir, gw.log_path.parent)
        for path in root.rglob("*")
        if path.is_file() and any(needle in path.read_bytes() for needle in needles)
    ]
    assert leaks == []
    # the scan can find things: the organisation's name is in the database file
    assert any(b"retention-plain" in p.read_bytes() for p in gw.data_dir.rglob("*") if p.is_file())
    log = gw.log_text()
    assert log.count("\n") > 20  # DEBUG logs were written: an empty log would prove nothing
    gw.start()  # the module's other users (none today) get it back
