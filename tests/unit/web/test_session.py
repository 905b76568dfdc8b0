from __future__ import annotations

from onshore.web.session import SESSION_TTL_S, SessionSigner

KEY = b"k" * 32
OTHER = b"o" * 32


def test_a_session_verifies_until_it_expires() -> None:
    signer = SessionSigner([KEY])
    session, cookie = signer.issue(now=1_000, token_id="opt_1")
    assert signer.verify(cookie, now=1_001) == session
    assert session.token_id == "opt_1"
    assert signer.verify(cookie, now=1_000 + SESSION_TTL_S) is None


def test_a_tampered_or_forged_cookie_is_refused() -> None:
    signer = SessionSigner([KEY])
    _, cookie = signer.issue(now=0, token_id="opt_1")
    session_id, token_id, expiry, signature = cookie.split(".")
    assert signer.verify(f"{session_id}.{token_id}.{int(expiry) + 10**6}.{signature}", now=1) is None
    assert signer.verify(f"other.{token_id}.{expiry}.{signature}", now=1) is None
    # Another operator's token id in a valid cookie: the signature covers it.
    assert signer.verify(f"{session_id}.break-glass.{expiry}.{signature}", now=1) is None
    assert signer.verify(cookie + "x", now=1) is None
    assert signer.verify("", now=1) is None
    assert signer.verify("a.b.c", now=1) is None
    assert signer.verify(None, now=1) is None


def test_a_new_signing_key_ends_every_session() -> None:
    _, cookie = SessionSigner([KEY]).issue(now=0, token_id="opt_1")
    assert SessionSigner([OTHER]).verify(cookie, now=1) is None


def test_a_previous_key_still_verifies_during_a_rotation_with_its_own_csrf() -> None:
    old = SessionSigner([KEY])
    session, cookie = old.issue(now=0, token_id="opt_1")
    rotated = SessionSigner([OTHER, KEY])
    seen = rotated.verify(cookie, now=1)
    assert seen is not None and seen.key_index == 1
    assert rotated.check_csrf(seen, old.csrf_token(session))
    assert rotated.unseal(seen, old.seal(session, "hello")) == "hello"


def test_the_cookie_and_csrf_token_carry_no_key() -> None:
    signer = SessionSigner([KEY])
    session, cookie = signer.issue(now=0, token_id="opt_1")
    for value in (cookie, signer.csrf_token(session)):
        assert "k" * 10 not in value


def test_a_csrf_token_belongs_to_one_session() -> None:
    signer = SessionSigner([KEY])
    first, _ = signer.issue(now=0, token_id="opt_1")
    second, _ = signer.issue(now=0, token_id="opt_1")
    assert signer.check_csrf(first, signer.csrf_token(first))
    assert not signer.check_csrf(second, signer.csrf_token(first))
    assert not signer.check_csrf(first, "")


def test_a_sealed_flash_opens_only_in_its_own_session() -> None:
    signer = SessionSigner([KEY])
    mine, _ = signer.issue(now=0, token_id="opt_1")
    other, _ = signer.issue(now=0, token_id="opt_1")
    sealed = signer.seal(mine, "sk-onshore-secret")
    assert "sk-onshore-secret" not in sealed
    assert signer.unseal(mine, sealed) == "sk-onshore-secret"
    assert signer.unseal(other, sealed) is None
    assert SessionSigner([OTHER]).unseal(mine, sealed) is None
    assert signer.unseal(mine, sealed[:-2] + "AA") is None
    assert signer.unseal(mine, "!!not base64!!") is None
    assert signer.unseal(mine, None) is None
