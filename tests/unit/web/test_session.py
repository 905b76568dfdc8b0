from __future__ import annotations

from onshore.web.session import SESSION_TTL_S, SessionSigner

TOKEN = "admin-" + "x" * 40


def test_a_session_verifies_until_it_expires() -> None:
    signer = SessionSigner(TOKEN)
    session, cookie = signer.issue(now=1_000)
    assert signer.verify(cookie, now=1_001) == session
    assert signer.verify(cookie, now=1_000 + SESSION_TTL_S) is None


def test_a_tampered_or_forged_cookie_is_refused() -> None:
    signer = SessionSigner(TOKEN)
    _, cookie = signer.issue(now=0)
    session_id, expiry, signature = cookie.split(".")
    assert signer.verify(f"{session_id}.{int(expiry) + 10**6}.{signature}", now=1) is None  # extended
    assert signer.verify(f"other.{expiry}.{signature}", now=1) is None
    assert signer.verify(cookie + "x", now=1) is None
    assert signer.verify("", now=1) is None
    assert signer.verify("a.b.c.d", now=1) is None
    assert signer.verify(None, now=1) is None


def test_rotating_the_admin_token_ends_every_session() -> None:
    _, cookie = SessionSigner(TOKEN).issue(now=0)
    assert SessionSigner(TOKEN + "-rotated").verify(cookie, now=1) is None


def test_the_cookie_and_csrf_token_never_contain_the_admin_token() -> None:
    signer = SessionSigner(TOKEN)
    session, cookie = signer.issue(now=0)
    for value in (cookie, signer.csrf_token(session)):
        assert TOKEN not in value and "x" * 10 not in value


def test_a_csrf_token_belongs_to_one_session() -> None:
    signer = SessionSigner(TOKEN)
    first, _ = signer.issue(now=0)
    second, _ = signer.issue(now=0)
    assert signer.check_csrf(first, signer.csrf_token(first))
    assert not signer.check_csrf(second, signer.csrf_token(first))
    assert not signer.check_csrf(first, "")


def test_a_sealed_flash_opens_only_in_its_own_session() -> None:
    signer = SessionSigner(TOKEN)
    mine, _ = signer.issue(now=0)
    other, _ = signer.issue(now=0)
    sealed = signer.seal(mine, "sk-onshore-secret")
    assert "sk-onshore-secret" not in sealed
    assert signer.unseal(mine, sealed) == "sk-onshore-secret"
    assert signer.unseal(other, sealed) is None
    assert SessionSigner(TOKEN + "2").unseal(mine, sealed) is None
    assert signer.unseal(mine, sealed[:-2] + "AA") is None
    assert signer.unseal(mine, "!!not base64!!") is None
    assert signer.unseal(mine, None) is None
