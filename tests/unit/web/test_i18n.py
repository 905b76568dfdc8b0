from __future__ import annotations

import re
from datetime import UTC, date, datetime
from importlib import resources

import pytest

from onshore.web.i18n import LANGUAGES, Formatter, catalog, choose_language


def test_both_languages_have_the_same_words() -> None:
    assert set(catalog("ko")) == set(catalog("en"))
    for key, text in catalog("ko").items():
        placeholders = set(re.findall(r"{(\w+)}", text))
        assert placeholders == set(re.findall(r"{(\w+)}", catalog("en")[key])), key


def test_every_word_a_template_asks_for_exists() -> None:
    folder = resources.files("onshore.web").joinpath("templates")
    used: set[str] = set()
    for entry in folder.iterdir():
        used |= set(re.findall(r"""\bt\(\s*["']([\w.]+)["']\s*[,)]""", entry.read_text("utf-8")))
    missing = used - set(catalog("en"))
    assert not missing


def test_korean_formats() -> None:
    ko = Formatter("ko")
    assert ko.won(1_234_567) == "₩1,234,567"
    assert ko.won(1_234_567.99) == "₩1,234,567"  # truncated below one won, as invoices are
    assert ko.micro_won(2_500_000_000) == "₩2,500"
    assert ko.month(date(2026, 12, 1)) == "2026년 12월"
    assert ko.number(1234567) == "1,234,567"
    assert "2026" in ko.moment(datetime(2026, 12, 7, 13, 5, tzinfo=UTC))


def test_english_formats() -> None:
    en = Formatter("en")
    assert en.won(1_234_567) == "₩1,234,567"
    assert en.month(date(2026, 12, 1)) == "December 2026"


@pytest.mark.parametrize(
    ("cookie", "header", "expected"),
    [
        ("en", b"ko-KR,ko;q=0.9", "en"),
        (None, b"en-US,en;q=0.9", "en"),
        (None, b"ko-KR,ko;q=0.9,en;q=0.8", "ko"),
        (None, b"fr-FR", "ko"),
        ("xx", None, "ko"),
    ],
)
def test_the_language_is_the_users_choice_then_the_browsers(
    cookie: str | None, header: bytes | None, expected: str
) -> None:
    assert choose_language(cookie, header) == expected
    assert expected in LANGUAGES


def test_every_word_a_template_builds_from_a_value_exists() -> None:
    from onshore.admin.overview import PERIODS
    from onshore.domain.limits import LIMIT_FIELDS, Tier
    from onshore.domain.policy import PiiMode
    from onshore.domain.usage_series import BUCKETS, GROUP_BYS
    from onshore.web.pages.overview import METRICS

    built = (
        [f"limit.{name}" for name in (*LIMIT_FIELDS, "tier")]
        + [f"tier.{tier.value}" for tier in Tier]
        + [f"pii.{mode.value}" for mode in PiiMode]
        + [f"period.{p}" for p in PERIODS]
        + [f"bucket.{b}" for b in BUCKETS]
        + [f"group.{g}" for g in (*GROUP_BYS, "none")]
        + [f"chart.{m}" for m in METRICS]
        + [f"invoice.status.{s}" for s in ("issued", "superseded", "preview")]
        + [
            f"done.{d}"
            for d in (
                "org_created",
                "key_created",
                "key_revoked",
                "limits_saved",
                "policy_saved",
                "invoice_created",
            )
        ]
    )
    for lang in LANGUAGES:
        assert not [key for key in built if key not in catalog(lang)], lang
