"""Context cues: the nearest cue decides, English cues only count as whole-word starts."""

from __future__ import annotations

import pytest

from onshore.pii.context import Cue, shared_context_rules
from onshore.pii.entities import EntityType

T = EntityType
NUMBER = "1234567891"


def _cue(before: str, after: str, etype: EntityType) -> Cue:
    text = before + NUMBER + after
    return shared_context_rules().assess(text, len(before), len(before) + len(NUMBER), etype)


@pytest.mark.parametrize(
    ("before", "after", "etype", "expected"),
    [
        ("사업자등록번호 ", "", T.KR_BRN, Cue.POSITIVE),
        ("Business registration no. ", "", T.KR_BRN, Cue.POSITIVE),
        ("BRN: ", "", T.KR_BRN, Cue.POSITIVE),
        ("주문번호 ", "", T.KR_BRN, Cue.NEGATIVE),
        ("사업자 정보 확인 후 주문번호 ", "", T.KR_BRN, Cue.NEGATIVE),  # the negative cue is nearer
        ("주문번호 확인했고 사업자번호는 ", "", T.KR_BRN, Cue.POSITIVE),
        ("값 ", "", T.KR_BRN, Cue.NONE),
        ("주민번호 ", "", T.KR_CRN, Cue.OTHER),
        ("주민번호 확인은 나중에 하고요 이 번호는 아주 길게 설명한 뒤 ", "", T.KR_CRN, Cue.NONE),
        ("", " 계좌로 보내주세요", T.KR_BANK_ACCOUNT, Cue.POSITIVE),
        ("department ", "", T.KR_BRN, Cue.NONE),  # "part" inside a word is no cue
        ("Order ", "", T.KR_BRN, Cue.NEGATIVE),
    ],
)
def test_cues(before: str, after: str, etype: EntityType, expected: Cue) -> None:
    assert _cue(before, after, etype) is expected
