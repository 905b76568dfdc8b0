"""Presidio as a comparison baseline for the PII evaluation and benchmark (optional).

Builds Presidio's ``AnalyzerEngine`` fully offline: the ``no_op`` NLP engine (no spaCy model is
installable from PyPI for Korean), the pattern recognizers that apply (e-mail, credit card, IP,
the five Korean ones) and ``PhoneRecognizer`` with Korea added to its regions. Presidio is not a
runtime dependency of Onshore: install it with ``pip install -e '.[pii-bench]'``.

Pitfall handled here: ``EmailRecognizer`` uses ``tldextract``, which downloads the Public Suffix
List on first use (a ConnectionError traceback offline). An empty
``TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS`` makes it use its bundled snapshot without any network.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

INSTALL_HINT = "Presidio is not installed: pip install -e '.[pii-bench]'  (or: pip install presidio-analyzer)"

# Presidio entity -> Onshore entity
ENTITY_MAP = {
    "EMAIL_ADDRESS": "EMAIL",
    "CREDIT_CARD": "CREDIT_CARD",
    "IP_ADDRESS": "IP_ADDRESS",
    "PHONE_NUMBER": "KR_PHONE",
    "KR_RRN": "KR_RRN",
    "KR_FRN": "KR_ARN",
    "KR_BRN": "KR_BRN",
    "KR_DRIVER_LICENSE": "KR_DRIVER_LICENSE",
    "KR_PASSPORT": "KR_PASSPORT",
}


def build(threshold: float = 0.0) -> Callable[[str], list[tuple[str, int, int]]] | None:
    """Return ``analyze(text) -> [(onshore_type, start, end)]``, or None when Presidio is missing."""
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    try:
        # optional dependency: imported only when the comparison runs
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry  # noqa: PLC0415
        from presidio_analyzer.nlp_engine import NlpEngineProvider  # noqa: PLC0415
        from presidio_analyzer.predefined_recognizers import (  # noqa: PLC0415
            CreditCardRecognizer,
            EmailRecognizer,
            IpRecognizer,
            KrBrnRecognizer,
            KrDriverLicenseRecognizer,
            KrFrnRecognizer,
            KrPassportRecognizer,
            KrRrnRecognizer,
            PhoneRecognizer,
        )
    except ImportError:
        return None
    nlp = NlpEngineProvider(
        nlp_configuration={"nlp_engine_name": "no_op", "models": [{"lang_code": "ko", "model_name": "no_op"}]}
    ).create_engine()
    registry = RecognizerRegistry(supported_languages=["ko"])
    recognizers: list[Any] = [
        EmailRecognizer(supported_language="ko"),
        CreditCardRecognizer(supported_language="ko"),
        IpRecognizer(supported_language="ko"),
        PhoneRecognizer(supported_language="ko", supported_regions=("KR",)),
        KrRrnRecognizer(),
        KrFrnRecognizer(),
        KrBrnRecognizer(),
        KrDriverLicenseRecognizer(),
        KrPassportRecognizer(),
    ]
    for recognizer in recognizers:
        registry.add_recognizer(recognizer)
    engine = AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["ko"])

    def analyze(text: str) -> list[tuple[str, int, int]]:
        results = engine.analyze(text=text, language="ko", score_threshold=threshold)
        return [(ENTITY_MAP.get(r.entity_type, r.entity_type), r.start, r.end) for r in results]

    analyze("warm up 010-1234-5678 hong@naver.com")
    return analyze


def build_or_explain(threshold: float = 0.0) -> Callable[[str], list[tuple[str, int, int]]] | None:
    """:func:`build`, printing how to install Presidio when it is missing."""
    analyze = build(threshold)
    if analyze is None:
        print(INSTALL_HINT, file=sys.stderr)
    return analyze
