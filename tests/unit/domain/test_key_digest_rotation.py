"""The key-digest secret's generations (``KeyDigester`` with previous secrets)."""

from __future__ import annotations

import pytest

from onshore.domain.keys import KeyDigester, new_key_secret, secret_fingerprint

A = b"secret-a-0123456789abcdef"
B = b"secret-b-0123456789abcdef"


def test_the_current_secret_makes_the_digest_and_previous_ones_are_only_alternatives() -> None:
    key = new_key_secret()
    rotated = KeyDigester(B, previous=(A,))
    assert rotated.digest(key) == KeyDigester(B).digest(key)
    assert rotated.older_digests(key) == [(KeyDigester(A).digest(key), secret_fingerprint(A))]
    assert rotated.previous_ids == (secret_fingerprint(A),)


def test_without_previous_secrets_a_miss_costs_nothing_more() -> None:
    assert KeyDigester(A).older_digests(new_key_secret()) == []


def test_the_current_secret_listed_as_previous_too_is_ignored() -> None:
    assert KeyDigester(A, previous=(A,)).previous_ids == ()


def test_the_generation_names_the_secret_without_revealing_it() -> None:
    assert KeyDigester(A).secret_id == secret_fingerprint(A) != secret_fingerprint(B)
    assert len(KeyDigester(A).secret_id) == 12 and A.decode() not in KeyDigester(A).secret_id


def test_a_short_previous_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        KeyDigester(A, previous=(b"short",))


def test_the_next_secret_is_recognised_and_named_as_upcoming() -> None:
    key = new_key_secret()
    step_one = KeyDigester(A, upcoming=(B,))
    assert step_one.older_digests(key) == [(KeyDigester(B).digest(key), secret_fingerprint(B))]
    assert step_one.upcoming_ids == {secret_fingerprint(B)} and step_one.previous_ids == ()
