"""Korean and English: the console's words (``locales/*.json``) and CLDR's formats (Babel).

Words live in one JSON catalog per language with the same keys (a test checks it, and that every
key the templates use exists). Numbers, won and dates come from Babel, so Korean gets ₩1,234,567,
2026년 12월 and 2026. 12. 7. 오후 1:05 the way Korean software writes them, and English the same
figures in its own order.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import ROUND_FLOOR, Decimal
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_skeleton
from babel.numbers import format_currency, format_decimal, format_percent

LANGUAGES = ("ko", "en")
DEFAULT_LANGUAGE = "ko"
LANG_COOKIE = "onshore_lang"
_LOCALES = {"ko": "ko_KR", "en": "en_US"}


@cache
def catalog(lang: str) -> dict[str, str]:
    text = resources.files("onshore.web").joinpath("locales", f"{lang}.json").read_text("utf-8")
    words: dict[str, str] = json.loads(text)
    return words


def choose_language(cookie: str | None, accept_language: bytes | None) -> str:
    """The user's choice if made; else the browser's first of ours; else Korean."""
    if cookie in LANGUAGES:
        return cookie
    if accept_language:
        for part in accept_language.decode("latin-1").split(","):
            tag = part.split(";")[0].strip().lower()[:2]
            if tag in LANGUAGES:
                return tag
    return DEFAULT_LANGUAGE


class Formatter:
    """What the templates call as ``t`` and ``fmt``: words and figures in one language."""

    def __init__(self, lang: str, timezone: str = "Asia/Seoul"):
        self.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
        self.zone = ZoneInfo(timezone)
        self._locale = _LOCALES[self.lang]
        self._words = catalog(self.lang)

    def t(self, key: str, **values: object) -> str:
        text = self._words.get(key, key)
        return text.format(**values) if values else text

    def number(self, value: float | int | Decimal | None, digits: int = 0) -> str:
        if value is None:
            return "—"
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, format=pattern, locale=self._locale)

    def won(self, value: Decimal | int | float | None) -> str:
        """Whole won, truncated below one won as Korean invoices do (₩1,234,567)."""
        if value is None:
            return "—"
        whole = Decimal(str(value)).to_integral_value(rounding=ROUND_FLOOR)
        return format_currency(whole, "KRW", locale=self._locale, currency_digits=True)

    def micro_won(self, value: int | None) -> str:
        return self.won(None if value is None else Decimal(value) / 1_000_000)

    def percent(self, value: float | None) -> str:
        if value is None:
            return "—"
        return format_percent(value, format="#,##0.#%", locale=self._locale)

    def month(self, value: date) -> str:
        """2026년 12월 / December 2026."""
        return format_skeleton("yMMMM", value, locale=self._locale)

    def day(self, value: date) -> str:
        return format_date(value, "medium", locale=self._locale)

    def moment(self, value: datetime | None) -> str:
        if value is None:
            return "—"
        """In the console's time zone, named (2026. 12. 7. 오후 2:05:30 KST)."""
        shown = format_datetime(value, "medium", tzinfo=self.zone, locale=self._locale)
        return f"{shown} {value.astimezone(self.zone).tzname()}"

    def ms(self, value: float | None) -> str:
        return "—" if value is None else f"{self.number(value, 0)} ms"
