"""Redaction replaces exactly the findings' spans."""

from __future__ import annotations

from onshore.pii import EntityType, Finding, placeholder, redact, scan


def test_placeholders() -> None:
    text = "주민번호 900101-1234568, 메일 hong@naver.com으로"
    assert redact(text, scan(text)) == "주민번호 [KR_RRN], 메일 [EMAIL]으로"


def test_custom_replacement_and_exact_offsets() -> None:
    text = "a 010-1234-5678 b"
    out = redact(text, scan(text), lambda f: "*" * (f.end - f.start))
    assert out == "a ************* b"
    assert len(out) == len(text)


def test_overlapping_and_out_of_range_findings_are_ignored() -> None:
    text = "0123456789"
    findings = [
        Finding(2, 6, EntityType.KR_PHONE, 0.9),
        Finding(4, 8, EntityType.EMAIL, 0.9),
        Finding(9, 20, EntityType.EMAIL, 0.9),
    ]
    assert redact(text, findings, placeholder) == "01[KR_PHONE]6789"
    assert redact(text, []) == text
