"""The detector on the surface forms of real Korean text, its look-alikes and its API."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import pytest

from onshore.pii import ALL_TYPES, Detector, EntityType, Finding, context, default_detector, detector, scan
from onshore.pii.entities import make_finding

T = EntityType

# (text, type, the exact span text)
POSITIVES: list[tuple[str, EntityType, str]] = [
    ("전화번호 010-1234-5678로 연락주세요", T.KR_PHONE, "010-1234-5678"),
    ("0082-10-1234-5678로 국제전화", T.KR_PHONE, "0082-10-1234-5678"),
    ("For questions call +82 2 3771 4000.", T.KR_PHONE, "+82 2 3771 4000"),
    ("ssh admin@172.31.45.9 -p 2222", T.IP_ADDRESS, "172.31.45.9"),
    ("Tel.010-5512-0938", T.KR_PHONE, "010-5512-0938"),
    ("본사 02-1234-5678", T.KR_PHONE, "02-1234-5678"),
    ("2001:db8::1 에서 접속", T.IP_ADDRESS, "2001:db8::1"),
    ("운전면허 서울-17-123456-01", T.KR_DRIVER_LICENSE, "서울-17-123456-01"),
    ("아기 주민번호 없이 적어요 230904-4615023", T.KR_RRN, "230904-4615023"),
    ("새마을금고 9002-1998-7754-3 으로 입금", T.KR_BANK_ACCOUNT, "9002-1998-7754-3"),
    ("연락처:01012345678입니다", T.KR_PHONE, "01012345678"),
    ("010.1234.5678 / 010 1234 5678", T.KR_PHONE, "010.1234.5678"),
    ("０１０－１２３４－５６７８로 주세요", T.KR_PHONE, "０１０－１２３４－５６７８"),
    ("010ㅡ1234ㅡ5678", T.KR_PHONE, "010ㅡ1234ㅡ5678"),
    ("010–1234–5678", T.KR_PHONE, "010–1234–5678"),
    ("010·1234·5678", T.KR_PHONE, "010·1234·5678"),
    ("번호 010-1234-\n5678 입니다", T.KR_PHONE, "010-1234-\n5678"),
    ("사무실 (02) 312-4567", T.KR_PHONE, "(02) 312-4567"),
    ("사무실 02)312-4567", T.KR_PHONE, "02)312-4567"),
    ("call +82 10-1234-5678 now", T.KR_PHONE, "+82 10-1234-5678"),
    ("call +82 (0)10 1234 5678", T.KR_PHONE, "+82 (0)10 1234 5678"),
    ("call +821012345678", T.KR_PHONE, "+821012345678"),
    ("+82-2-312-4567", T.KR_PHONE, "+82-2-312-4567"),
    ("고객센터 1588-1234", T.KR_PHONE, "1588-1234"),
    ("인터넷전화 070-1234-5678", T.KR_PHONE, "070-1234-5678"),
    ("안심번호 0504-1234-5678", T.KR_PHONE, "0504-1234-5678"),
    ("구형 011-234-5678", T.KR_PHONE, "011-234-5678"),
    ("번호는900101-1234568입니다", T.KR_RRN, "900101-1234568"),
    ("주민번호 900101 - 1234568", T.KR_RRN, "900101 - 1234568"),
    ("주민등록번호 ９００１０１－１２３４５６８", T.KR_RRN, "９００１０１－１２３４５６８"),
    ("주민번호 9001011234568", T.KR_RRN, "9001011234568"),
    ("주민등록번호 201105-3123456 (2020년 이후)", T.KR_RRN, "201105-3123456"),
    ("주민번호 900101-\n1234568", T.KR_RRN, "900101-\n1234568"),
    ("외국인등록번호 900101-5146785", T.KR_ARN, "900101-5146785"),
    ("사업자등록번호 123-45-67891", T.KR_BRN, "123-45-67891"),
    ("사업자번호는 1234567891입니다", T.KR_BRN, "1234567891"),
    ("법인등록번호 110111-0123458", T.KR_CRN, "110111-0123458"),
    ("여권번호 M12345678", T.KR_PASSPORT, "M12345678"),
    ("passport M123A4567.", T.KR_PASSPORT, "M123A4567"),
    ("운전면허번호 11-91-123456-12", T.KR_DRIVER_LICENSE, "11-91-123456-12"),
    ("운전면허 서울 91-123456-12", T.KR_DRIVER_LICENSE, "서울 91-123456-12"),
    ("면허번호 119112345612", T.KR_DRIVER_LICENSE, "119112345612"),
    ("국민은행 계좌 123456-78-901234로 입금", T.KR_BANK_ACCOUNT, "123456-78-901234"),
    ("카카오뱅크 3333-12-3456789", T.KR_BANK_ACCOUNT, "3333-12-3456789"),
    ("신한 110-123-456789 예금주 홍길동", T.KR_BANK_ACCOUNT, "110-123-456789"),
    ("카드 4111-1111-1111-1111로 결제", T.CREDIT_CARD, "4111-1111-1111-1111"),
    ("card 4111 1111 1111 1111", T.CREDIT_CARD, "4111 1111 1111 1111"),
    ("카드번호 9410123456789010", T.CREDIT_CARD, "9410123456789010"),
    ("amex 3782-822463-10005", T.CREDIT_CARD, "3782-822463-10005"),
    ("hong@naver.com으로 보내주세요", T.EMAIL, "hong@naver.com"),
    ("메일:kim.minsu+tag@corp.co.kr입니다", T.EMAIL, "kim.minsu+tag@corp.co.kr"),
    ("IP는 192.168.0.1에서 접속", T.IP_ADDRESS, "192.168.0.1"),
    ("주소 fe80::1 확인", T.IP_ADDRESS, "fe80::1"),
    ("v6 2001:db8::8a2e:370:7334에서", T.IP_ADDRESS, "2001:db8::8a2e:370:7334"),
    ("mapped ::ffff:192.168.0.1 here", T.IP_ADDRESS, "::ffff:192.168.0.1"),
    # wrapped at a line break: before or after a separator, inside a group, in place of a space,
    # inside bare digits; \r\n, indentation, e-mail quote marks
    ("연락처 010-1234\n-5678 입니다", T.KR_PHONE, "010-1234\n-5678"),
    ("연락처 010-\n1234-5678 입니다", T.KR_PHONE, "010-\n1234-5678"),
    ("연락처 010-12\n34-5678 입니다", T.KR_PHONE, "010-12\n34-5678"),
    ("연락처 010 1234\r\n5678 입니다", T.KR_PHONE, "010 1234\r\n5678"),
    ("연락처 0101234\n5678 입니다", T.KR_PHONE, "0101234\n5678"),
    ("연락처 0\n10-1234-5678", T.KR_PHONE, "0\n10-1234-5678"),
    ("    연락처: 010-1234-\n    5678", T.KR_PHONE, "010-1234-\n    5678"),
    ("> 제 번호는 010-1234-\n> 5678 입니다", T.KR_PHONE, "010-1234-\n> 5678"),
    ("Contact: 010\n         -7633-4835\nOffice: none", T.KR_PHONE, "010\n         -7633-4835"),
    ("주민번호 9001\n01-1234568", T.KR_RRN, "9001\n01-1234568"),
    ("주민번호 900101\n-1234568", T.KR_RRN, "900101\n-1234568"),
    ("주민번호 9001011\n234568", T.KR_RRN, "9001011\n234568"),
    ("카드 4111-11\n11-1111-1111 결제", T.CREDIT_CARD, "4111-11\n11-1111-1111"),
    ("카드 41111111\r\n11111111 결제", T.CREDIT_CARD, "41111111\r\n11111111"),
    ("사업자등록번호 123-45-6789\n1", T.KR_BRN, "123-45-6789\n1"),
    ("계좌 110-12\n3-456789 신한", T.KR_BANK_ACCOUNT, "110-12\n3-456789"),
    # no separators, glued to a label or a file name
    ("HP01012345678 / 팩스 없음", T.KR_PHONE, "01012345678"),
    ("Tel02-312-4567", T.KR_PHONE, "02-312-4567"),
    ("이력서_홍길동_01012345678.pdf", T.KR_PHONE, "01012345678"),
]

# A probe written after the corpus and not used for tuning: every line must give exactly these.
PROBE: list[tuple[str, list[tuple[EntityType, str]]]] = [
    ("제 번호 공일공 말고 010 9876 5432 로 주세요", [(T.KR_PHONE, "010 9876 5432")]),
    (
        "엄마 폰 010-2345-6789, 아빠 폰 010-3456-7890 입니다",
        [(T.KR_PHONE, "010-2345-6789"), (T.KR_PHONE, "010-3456-7890")],
    ),
    (
        "회사 전화는 031)789-1234 이고 팩스는 031-789-1235",
        [(T.KR_PHONE, "031)789-1234"), (T.KR_PHONE, "031-789-1235")],
    ),
    ("TEL. 02-2123-4567 / FAX. 02-2123-4568", [(T.KR_PHONE, "02-2123-4567"), (T.KR_PHONE, "02-2123-4568")]),
    ("010.9999.8888으로 연락바람", [(T.KR_PHONE, "010.9999.8888")]),
    ("Mobile: +82-10-9876-5432", [(T.KR_PHONE, "+82-10-9876-5432")]),
    ("주민등록번호: 850315-2345671", [(T.KR_RRN, "850315-2345671")]),
    ("주민번호는 8503152345671 이에요", [(T.KR_RRN, "8503152345671")]),
    ("우리 아들 주민번호 220315-3987654 인데요", [(T.KR_RRN, "220315-3987654")]),
    ("외국인등록번호 850315-5234567 확인 바랍니다", [(T.KR_ARN, "850315-5234567")]),
    ("사업자번호 220-81-62517 세금계산서 발행 요청", [(T.KR_BRN, "220-81-62517")]),
    ("통장 사본: 국민은행 940302-00-123456 예금주 김영희", [(T.KR_BANK_ACCOUNT, "940302-00-123456")]),
    ("우리은행 1002-345-678901로 30만원 보냈어요", [(T.KR_BANK_ACCOUNT, "1002-345-678901")]),
    ("농협 302-1234-5678-91 계좌로 환불", [(T.KR_BANK_ACCOUNT, "302-1234-5678-91")]),
    ("카드번호 5412 7512 3456 7890 유효기간 09/27", []),  # fails Luhn: not a card number
    ("visa 4556-7375-8689-9855", [(T.CREDIT_CARD, "4556-7375-8689-9855")]),
    ("이메일 kim_younghee@naver.com 으로 보내주세요", [(T.EMAIL, "kim_younghee@naver.com")]),
    ("메일주소가 hong.gildong@samsung.com이었나?", [(T.EMAIL, "hong.gildong@samsung.com")]),
    ("서버 IP 10.20.30.40 포트 22", [(T.IP_ADDRESS, "10.20.30.40")]),
    ("여권번호가 M70689098 이에요", [(T.KR_PASSPORT, "M70689098")]),
    ("운전면허번호 12-05-123456-78", [(T.KR_DRIVER_LICENSE, "12-05-123456-78")]),
    ("주문번호 202403151234 배송 조회", []),
    ("2024.03.15 14:30 결제 금액 45,000원", []),
    ("모델번호 SM-G998N 시리얼 R3CR1234567", []),
    ("v2.3.14 빌드 20240315.1", []),
    ("위도 37.5665 경도 126.9780", []),
    ("송장번호 6012-3456-7890", []),
    ("예약번호 ABC123456 체크인 15:00", []),
    ("인증번호 [482913]을 입력하세요", []),
]


@pytest.mark.parametrize(("text", "expected"), PROBE)
def test_probe(text: str, expected: list[tuple[EntityType, str]]) -> None:
    assert [(f.type, text[f.start : f.end]) for f in scan(text)] == expected


NEGATIVES: list[str] = [
    "2024-01-15 10:30에 주문하신 상품이 발송되었습니다.",
    "가격은 1,234,000원이고 할인가 12000원입니다.",
    "주문번호 2024011512345678 확인 부탁드립니다.",
    "운송장번호 123456789012 조회",
    "쿠폰번호 4111-1111-1111-1111 등록",
    "모델 M123K4567 부품 교체",
    "버전 1.2.3.4 배포",
    "chrome 120.0.6099.109",
    "OID 1.3.6.1.4.1.2021",
    "좌표 37.5665, 126.9780",
    "ISBN 978-89-1234-567-8",
    "ISBN 9788912345678",
    "카드 4111-1111-1111-1112",
    "사업자번호 123-45-67890",
    "주민번호 901301-1234567",
    "주민번호 900230-1234567",
    "마스킹 900101-1******, 010-****-5678",
    "전자세금계산서 20240115-41000012-34567890",
    "1800-1900년대 자료",
    "timestamp 1705278612",
    "SKU-1234-5678-9012-3456",
    "std::vector and 10:30:00",
    "tel 035-123-4567",  # there is no area code 035 (libphonenumber allows exchanges 1-9)
    "010-0000-0000 처럼 적어 주세요",  # a placeholder
    "가상계좌 입금기한 2024.03.20 23:59",  # a date and a time, not an account
    "IP 대역 10.0.0.0 ~ 10.255.255.255, 마스크 255.255.255.0",  # networks, not hosts
    "user@localhost",
    # wrapped look-alikes: a column of amounts under a bank cue, order numbers and dates per line
    "입금 확인 부탁드립니다.\n150000\n23000\n4800\n120000",
    "계좌 이체 내역: 1. 15000원\n2. 230000원",
    "주문번호\n2024031500012\n결제일\n2024-03-15",
    "운송장번호 6012 3456\n7890 조회",
    "로그\n1705278612\n1705278699",
    # digits glued to a code or a file name that is not a phone label
    "상품코드 SKU01012345678 재고",
    "파일명 report_01012345678.csv",
    "모델 AB01012345678",
]


@pytest.mark.parametrize(("text", "etype", "value"), POSITIVES)
def test_finds_surface_forms(text: str, etype: EntityType, value: str) -> None:
    findings = scan(text)
    spans = [(f.type, text[f.start : f.end]) for f in findings]
    assert (etype, value) in spans


@pytest.mark.parametrize("text", NEGATIVES)
def test_no_false_alarms(text: str) -> None:
    assert scan(text) == []


def test_finding_never_carries_the_value() -> None:
    finding = scan("주민번호 900101-1234568")[0]
    assert "900101" not in repr(finding)
    assert "900101" not in str(finding.to_dict())
    assert set(finding.to_dict()) == {"type", "start", "end", "confidence"}


def test_offsets_refer_to_the_original_text_with_zero_width_characters() -> None:
    text = "안\u200b녕 번호\u200b는 010-\u200b1234-5678로"
    [finding] = scan(text)
    assert text[finding.start : finding.end] == "010-\u200b1234-5678"


def test_entity_selection_and_threshold() -> None:
    text = "주민번호 900101-1234568, 전화 010-1234-5678, 사업자번호 1234567891"
    only_phone = Detector([T.KR_PHONE]).scan(text)
    assert [f.type for f in only_phone] == [T.KR_PHONE]
    assert {f.type for f in scan(text, entities=["KR_RRN"])} == {T.KR_RRN}
    strict = Detector(min_confidence=0.95).scan(text)
    assert all(f.confidence >= 0.95 for f in strict)
    assert len(strict) < len(Detector().scan(text))
    with pytest.raises(ValueError, match="min_confidence"):
        Detector(min_confidence=1.5)
    assert Detector().entities == ALL_TYPES


def test_findings_sorted_and_disjoint() -> None:
    text = "010-1234-5678 900101-1234568 hong@naver.com 192.168.0.1 4111-1111-1111-1111 " * 3
    findings = scan(text)
    assert findings == sorted(findings)
    assert all(a.end <= b.start for a, b in itertools.pairwise(findings))
    assert len(findings) == 15


def test_context_lowers_and_raises() -> None:
    bare = "1234567891"
    assert scan(f"값 {bare}") == []
    assert [f.type for f in scan(f"사업자등록번호 {bare}")] == [T.KR_BRN]
    assert scan(f"주문번호 {bare}") == []


def test_shared_detector_is_thread_safe() -> None:
    texts = [f"고객 {i}: 010-1234-{i:04d}, hong{i}@naver.com" for i in range(200)]
    expected = [default_detector().scan(t) for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(default_detector().scan, texts))
    assert results == expected
    assert default_detector() is default_detector()


def test_make_finding_builds_the_same_frozen_finding() -> None:
    built = make_finding(3, 8, T.EMAIL, 0.95)
    assert built == Finding(3, 8, T.EMAIL, 0.95)
    assert hash(built) == hash(Finding(3, 8, T.EMAIL, 0.95))
    assert repr(built) == repr(Finding(3, 8, T.EMAIL, 0.95))
    with pytest.raises(AttributeError):
        built.start = 4  # type: ignore[misc]


def test_finding_helpers() -> None:
    finding = Finding(3, 8, T.EMAIL, 0.95)
    assert finding.shifted(10) == Finding(13, 18, T.EMAIL, 0.95)
    assert finding.to_dict() == {"type": "EMAIL", "start": 3, "end": 8, "confidence": 0.95}


def test_module_scan_honours_a_lower_threshold() -> None:
    text = "값 1234567891"  # a bare BRN without a cue: 0.45
    assert scan(text) == []
    assert [f.type for f in scan(text, min_confidence=0.4)] == [T.KR_BRN]
    assert scan(text, entities=["KR_PHONE"], min_confidence=0.4) == []


def test_passport_scan_gate_knows_every_passport_cue() -> None:
    """The detector skips the passport scan when no cue word is present: keep the two in step."""
    for word in context._CUES[EntityType.KR_PASSPORT].split():
        for form in (word, word.capitalize(), word.upper()):
            assert any(cue in form for cue in detector._PASSPORT_CUES), form
    assert scan("여권 M12345678") and not scan("M12345678")
    assert scan("M12345678", min_confidence=0.4)  # below the passport's plain confidence: no gate


def test_a_far_label_lifts_specific_shapes_only() -> None:
    far = "여권 사본 첨부합니다. 여권 정보: 성명 HONG GILDONG, 생년월일 1990.01.01, 발급일 2022.05.01, 번호 M123A4567"
    assert [f.type for f in scan(far)] == [T.KR_PASSPORT]
    assert scan(far.replace("여권", "서류")) == []
    table = "| 은행 | 계좌번호 | 예금주 | 비고 | 메모 |\n|---|---|---|---|---|\n| 신규 | 1002-123-456789 | 김철수 |"
    assert [f.type for f in scan(table)] == [T.KR_BANK_ACCOUNT]
    # a far label does not beat a near negative cue
    assert scan("여권 정보는 아래에 적었습니다. 참고로 이 가방의 모델 번호는 M123A4567 입니다") == []
