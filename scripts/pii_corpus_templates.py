"""Prompt templates for ``pii_corpus.py``: positives with typed slots, negatives as generators.

Positive templates are ``(lang, domain, text)`` where ``{TYPE}`` marks a slot; particles and words
are glued to slots the way people type them. Negative templates are ``(lang, domain, make)``
where ``make(rng)`` returns a prompt full of numbers that are not personal data.
"""

# ruff: noqa: E501 - one template per line reads better than wrapped string fragments

from __future__ import annotations

import random
from collections.abc import Callable

POSITIVE_TEMPLATES: list[tuple[str, str, str]] = [
    # --- customer service (Korean)
    (
        "ko",
        "cs",
        "안녕하세요, 배송 관련해서 문의드려요. 제 연락처는 {KR_PHONE}이고 주문자 이메일은 {EMAIL}입니다.",
    ),
    ("ko", "cs", "상담원 연결이 안 돼서 남깁니다. 회신은 {KR_PHONE}로 부탁드려요."),
    ("ko", "cs", "고객님 번호가 {KR_PHONE} 맞으신가요? 확인 후 다시 연락드리겠습니다."),
    ("ko", "cs", "반품 접수했는데 연락이 없네요. 전화:{KR_PHONE} / 메일:{EMAIL}"),
    ("ko", "cs", "택배 기사님께 {KR_PHONE}으로 전화 달라고 전해 주세요. 부재 시 문 앞에 놔 주세요."),
    ("ko", "cs", '아래 고객 문의를 요약해 줘: "휴대폰 {KR_PHONE}, 이메일 {EMAIL}, 환불 요청"'),
    ("ko", "cs", "대표번호 {KR_PHONE}로 전화했는데 계속 통화중이에요."),
    ("ko", "cs", "고객센터({KR_PHONE})에 문의하니 앱에서 처리하라고 하더라고요."),
    # --- banking (Korean)
    ("ko", "bank", "환불은 국민은행 계좌 {KR_BANK_ACCOUNT}로 입금해 주세요. 예금주 홍길동입니다."),
    ("ko", "bank", "신한은행 {KR_BANK_ACCOUNT}(예금주 김민수)으로 이체 부탁드립니다."),
    ("ko", "bank", "카카오뱅크 계좌번호는 {KR_BANK_ACCOUNT}이에요. 오늘 중으로 송금해 주세요."),
    ("ko", "bank", "고객 실명확인: 주민등록번호 {KR_RRN}, 연락처 {KR_PHONE}. 계좌 개설 서류 검토 요청."),
    (
        "ko",
        "bank",
        "대출 신청서 내용 정리해줘. 주민번호는{KR_RRN}이고 입금 계좌는 우리은행 {KR_BANK_ACCOUNT}입니다.",
    ),
    ("ko", "bank", "송금할 계좌: 하나은행\n{KR_BANK_ACCOUNT}\n받는 분 이영희"),
    ("ko", "bank", "카드번호 {CREDIT_CARD} 분실 신고하려고요. 본인 확인용 번호는 {KR_PHONE}입니다."),
    ("ko", "bank", "결제에 사용한 카드가 {CREDIT_CARD}인데 승인이 두 번 됐어요."),
    ("ko", "bank", "농협 계좌 {KR_BANK_ACCOUNT}에서 자동이체가 안 빠졌어요."),
    ("ko", "bank", "토스뱅크 {KR_BANK_ACCOUNT} 계좌로 보증금 돌려받기로 했습니다."),
    # --- insurance (Korean)
    (
        "ko",
        "insurance",
        "보험금 청구합니다. 피보험자 주민등록번호 {KR_RRN}, 연락처 {KR_PHONE}, 지급 계좌 기업은행 {KR_BANK_ACCOUNT}.",
    ),
    ("ko", "insurance", "자녀(2021년생) 주민번호 {KR_RRN}로 실손보험 가입 가능할까요?"),
    ("ko", "insurance", "사고 차량 운전자 운전면허번호 {KR_DRIVER_LICENSE}, 연락처 {KR_PHONE}입니다."),
    ("ko", "insurance", "상대방 운전면허: {KR_DRIVER_LICENSE} (면허증 사진 첨부)"),
    ("ko", "insurance", "보험 계약자 정보 - 주민등록번호: {KR_RRN} / 이메일: {EMAIL}"),
    # --- telecom (Korean)
    (
        "ko",
        "telecom",
        "번호이동 신청서 작성 중인데 기존 번호 {KR_PHONE}, 명의자 주민번호 {KR_RRN} 이렇게 쓰면 되나요?",
    ),
    ("ko", "telecom", "인터넷 설치 기사님 방문 시 {KR_PHONE}로 먼저 연락 주세요."),
    ("ko", "telecom", "요금 자동납부 카드를 {CREDIT_CARD}로 변경해 주세요."),
    ("ko", "telecom", "공유기 관리자 페이지가 {IP_ADDRESS}에서 안 열려요. 서버 접속 로그 봐주세요."),
    ("ko", "telecom", "접속 IP가 {IP_ADDRESS}로 찍히는데 해외 IP인가요?"),
    # --- e-commerce (Korean)
    ("ko", "commerce", "판매자 정보: 사업자등록번호 {KR_BRN}, 고객센터 {KR_PHONE}, 이메일 {EMAIL}"),
    ("ko", "commerce", "세금계산서 발행 부탁드립니다. 사업자번호 {KR_BRN}, 담당자 메일 {EMAIL}"),
    ("ko", "commerce", "입점 신청서: 법인등록번호 {KR_CRN}, 사업자등록번호 {KR_BRN}"),
    ("ko", "commerce", "무통장 입금 계좌 {KR_BANK_ACCOUNT} (신한) 로 입금했는데 확인이 안 되네요."),
    ("ko", "commerce", "구매자 연락처 {KR_PHONE}, 배송지 서울시 강남구… 개인정보 마스킹해서 보여줘."),
    # --- HR (Korean)
    (
        "ko",
        "hr",
        "신입사원 인사카드 입력: 주민등록번호 {KR_RRN}, 휴대폰 {KR_PHONE}, 급여계좌 국민 {KR_BANK_ACCOUNT}",
    ),
    ("ko", "hr", "외국인 근로자 외국인등록번호 {KR_ARN} 체류기간 연장 서류 확인 부탁해요."),
    ("ko", "hr", "외국인등록번호: {KR_ARN}\n여권번호: {KR_PASSPORT}\n연락처: {KR_PHONE}"),
    ("ko", "hr", "출장자 여권번호 {KR_PASSPORT}로 항공권 예약해 주세요."),
    ("ko", "hr", "법인 정보 업데이트: 법인등록번호는 {KR_CRN}이고 대표 이메일은 {EMAIL}입니다."),
    ("ko", "hr", "원천징수 영수증 재발급 요청: 주민번호 {KR_RRN}, 메일 {EMAIL}"),
    ("ko", "hr", "채용 지원자 연락처가 {KR_PHONE}이고 운전면허 {KR_DRIVER_LICENSE} 소지자입니다."),
    # --- public / misc (Korean)
    ("ko", "public", "민원 신청인 주민등록번호 {KR_RRN} 주소 변경 요청"),
    ("ko", "public", "여권 재발급: 기존 여권번호는 {KR_PASSPORT}, 연락처 {KR_PHONE}"),
    ("ko", "public", "아이 출생신고 후 받은 주민등록번호가 {KR_RRN}인데 맞게 나온 건가요?"),
    ("ko", "public", "외국인 등록증 번호({KR_ARN}) 확인 부탁드립니다."),
    ("ko", "it", "서버 {IP_ADDRESS} 에서 에러 로그가 계속 쌓여요. 관리자 메일 {EMAIL}"),
    ("ko", "it", "방화벽에 {IP_ADDRESS}, {IP_ADDRESS} 두 개 열어 주세요."),
    # --- English
    ("en", "cs", "Hi, please call me back at {KR_PHONE} or email {EMAIL} about my refund."),
    ("en", "cs", "My Korean mobile is {KR_PHONE}; I am staying in Seoul until Friday."),
    ("en", "bank", "Please wire the deposit to Shinhan Bank account {KR_BANK_ACCOUNT}, account holder Kim."),
    ("en", "bank", "The card {CREDIT_CARD} was charged twice, can you reverse one payment?"),
    ("en", "bank", "Customer verification: resident registration number {KR_RRN}, phone {KR_PHONE}."),
    ("en", "hr", "New hire (foreign national): alien registration number {KR_ARN}, passport {KR_PASSPORT}."),
    ("en", "hr", "Employee passport number: {KR_PASSPORT}. Please book the flight to Busan."),
    ("en", "commerce", "Vendor business registration number {KR_BRN}, contact {EMAIL}."),
    ("en", "commerce", "Corporate registration number {KR_CRN} is listed on the contract."),
    (
        "en",
        "insurance",
        "Driver's license {KR_DRIVER_LICENSE} belongs to the other driver; his phone is {KR_PHONE}.",
    ),
    ("en", "it", "The login came from {IP_ADDRESS}, please block that address on the server."),
    ("en", "it", "Send the audit report to {EMAIL} and cc {EMAIL}."),
    ("en", "telecom", "Port my number {KR_PHONE} to the new plan and bill card {CREDIT_CARD}."),
    ("en", "bank", "Refund to KakaoBank account {KR_BANK_ACCOUNT} please."),
    # --- mixed
    ("mixed", "cs", "Customer 홍길동 ({KR_PHONE}) asked for a refund to 국민은행 {KR_BANK_ACCOUNT}."),
    ("mixed", "hr", "Summarize this: 이름 김철수, RRN {KR_RRN}, email {EMAIL}, 휴대폰 {KR_PHONE}"),
    ("mixed", "bank", "카드 {CREDIT_CARD} 결제 취소 요청 — customer says it was fraud."),
    ("mixed", "it", "prod DB 접속 IP {IP_ADDRESS}, 담당자 {EMAIL}로 연락"),
    ("mixed", "commerce", "Seller info: 사업자등록번호 {KR_BRN}, tel {KR_PHONE}"),
    ("mixed", "hr", "Visa 서류: passport {KR_PASSPORT}, 외국인등록번호 {KR_ARN}"),
    ("mixed", "insurance", "claim 접수 - 주민번호 {KR_RRN}, 계좌 우리은행 {KR_BANK_ACCOUNT}"),
    ("mixed", "telecom", "번호 {KR_PHONE} is not receiving SMS since yesterday."),
    ("mixed", "public", "Translate to English: 제 운전면허번호는 {KR_DRIVER_LICENSE}입니다."),
    ("mixed", "commerce", "법인등록번호 {KR_CRN} / BRN {KR_BRN} 으로 계약서 작성해줘"),
    # --- harder shapes: structured text, lists, glued symbols, context after the value
    ("ko", "cs", "☎ {KR_PHONE} (평일 9시~18시)"),
    ("ko", "cs", "H.P {KR_PHONE}번으로 문자 주세요"),
    ("ko", "cs", "연락처 목록\n1) {KR_PHONE}\n2) {KR_PHONE}\n3) {EMAIL}"),
    ("ko", "cs", "{KR_PHONE}/{KR_PHONE} 둘 중 아무 번호로나 연락 주세요"),
    (
        "mixed",
        "it",
        '{{"name": "홍길동", "phone": "{KR_PHONE}", "email": "{EMAIL}"}} 이 JSON에서 개인정보 지워줘',
    ),
    ("mixed", "it", "| 이름 | 연락처 | 이메일 |\n|---|---|---|\n| 김민수 | {KR_PHONE} | {EMAIL} |"),
    ("en", "it", "Allow {IP_ADDRESS} on port 8080 and log to {EMAIL}"),
    ("en", "cs", "Contact: {EMAIL} / {KR_PHONE}"),
    ("ko", "bank", "{KR_BANK_ACCOUNT} (신한은행, 예금주 박지훈)로 보내주세요"),
    ("ko", "bank", "계좌번호: {KR_BANK_ACCOUNT}"),
    ("ko", "bank", "• 결제 카드: {CREDIT_CARD}\n• 유효기간: 12/27"),
    ("en", "bank", "Card on file {CREDIT_CARD}, expiry 08/28."),
    ("ko", "public", "아이 번호가 {KR_RRN}인데 이거 주민번호 맞나요?"),
    ("en", "public", "SSN (Korean RRN): {KR_RRN}"),
    ("ko", "hr", "입사 서류 - 성명: 이지은, 주민등록번호:{KR_RRN}, 연락처:{KR_PHONE}, 이메일:{EMAIL}"),
    ("ko", "hr", "외국인 직원 등록증 번호 {KR_ARN} / 연락처 {KR_PHONE}"),
    ("ko", "commerce", "사업자 {KR_BRN} 대표 홍길동 통신판매업 신고 2024-서울강남-01234"),
    ("ko", "commerce", "(주)온쇼어 | 사업자등록번호 : {KR_BRN} | 대표전화 {KR_PHONE} | {EMAIL}"),
    ("ko", "insurance", "상대 차량 운전자 면허 {KR_DRIVER_LICENSE}, 보험사 접수는 {KR_PHONE}"),
    ("en", "hr", "Passport No.: {KR_PASSPORT} (expires 2031-05-01)"),
    ("ko", "telecom", '서버 로그: {IP_ADDRESS} - - [15/Jan/2024:10:30:00 +0900] "GET /login" 200'),
    ("mixed", "telecom", "SMS 인증이 {KR_PHONE}로 안 와요, 단말기는 SM-S918N 입니다."),
]


def _n(rng: random.Random, k: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(k))


def _date(rng: random.Random) -> str:
    return f"{rng.randint(2019, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _bad_luhn(rng: random.Random) -> str:
    while True:
        digits = rng.choice("4569") + _n(rng, 15)
        total = 0
        for i, ch in enumerate(reversed(digits)):
            d = int(ch) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10:
            return "-".join(digits[i : i + 4] for i in range(0, 16, 4))


def _bad_brn(rng: random.Random) -> str:
    d9 = f"{rng.randint(101, 999)}{rng.randint(1, 88):02d}{rng.randint(1, 9999):04d}"
    weights = [1, 3, 7, 1, 3, 7, 1, 3, 5]
    s = sum(int(a) * w for a, w in zip(d9, weights, strict=True)) + int(d9[8]) * 5 // 10
    wrong = ((10 - s % 10) % 10 + rng.randint(1, 9)) % 10
    return f"{d9[:3]}-{d9[3:5]}-{d9[5:]}{wrong}"


def _impossible_rrn(rng: random.Random) -> str:
    month, day = rng.choice([(13, 1), (0, 12), (2, 30), (4, 31), (11, 31), (2, 31), (6, 31), (14, 10)])
    return f"{rng.randint(60, 99)}{month:02d}{day:02d}-{rng.choice('1234')}{_n(rng, 6)}"


def _make(*choices: Callable[[random.Random], str]) -> Callable[[random.Random], str]:
    def make(rng: random.Random) -> str:
        return rng.choice(choices)(rng)

    return make


_NEG: list[tuple[str, str, Callable[[random.Random], str]]] = [
    (
        "ko",
        "commerce",
        lambda r: (
            f"주문번호 {r.randint(2023, 2026)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}{_n(r, 8)} 상품이 {_date(r)}에 출고되었습니다. 결제금액 {r.randint(1, 999):,},{_n(r, 3)}원."
        ),
    ),
    (
        "ko",
        "commerce",
        lambda r: (
            f"운송장번호 {_n(r, 12)}로 조회하면 {r.randint(1, 12)}월 {r.randint(1, 28)}일 {r.randint(9, 18)}:{r.randint(0, 59):02d} 배송 출발로 나와요."
        ),
    ),
    ("ko", "commerce", lambda r: f"송장번호가 {_n(r, 4)}-{_n(r, 4)}-{_n(r, 4)}인데 택배사 조회가 안 됩니다."),
    (
        "ko",
        "commerce",
        lambda r: (
            f"상품코드 A{_n(r, 3)}B{_n(r, 4)} 재고 {r.randint(1, 500)}개, 단가 {r.randint(1, 99)},{_n(r, 3)}원"
        ),
    ),
    (
        "ko",
        "commerce",
        lambda r: f"모델명 M{_n(r, 3)}K{_n(r, 4)} 부품번호 PN-{_n(r, 6)}-{_n(r, 2)} 교체 요청",
    ),
    (
        "ko",
        "commerce",
        lambda r: (
            f"가격이 {r.randint(10, 999)},{_n(r, 3)},{_n(r, 3)}원에서 {r.randint(10, 999)},{_n(r, 3)}원으로 내렸네요."
        ),
    ),
    ("ko", "commerce", lambda r: f"쿠폰번호 {_n(r, 4)}-{_n(r, 4)}-{_n(r, 4)}-{_n(r, 4)} 등록이 안 됩니다."),
    (
        "ko",
        "commerce",
        lambda r: (
            f"인보이스 번호 INV-{r.randint(2023, 2026)}-{_n(r, 6)} 기준으로 {r.randint(1, 30)}일 이내 결제 바랍니다."
        ),
    ),
    (
        "ko",
        "bank",
        lambda r: (
            f"카드 승인번호 {_n(r, 8)}, 거래일시 {_date(r)} {r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"
        ),
    ),
    ("ko", "bank", lambda r: f"카드번호 {_bad_luhn(r)} 로 결제가 안 되는데 번호를 잘못 적은 것 같아요."),
    (
        "ko",
        "bank",
        lambda r: (
            f"마스킹된 카드 {r.choice('4569')}{_n(r, 3)}-{_n(r, 2)}**-****-{_n(r, 4)} 로 결제 내역 조회"
        ),
    ),
    (
        "ko",
        "bank",
        lambda r: (
            f"이번 달 이자는 {r.randint(1, 99)},{_n(r, 3)}원이고 금리는 {r.randint(1, 9)}.{_n(r, 2)}%입니다."
        ),
    ),
    ("ko", "bank", lambda r: f"거래번호 {_n(r, 14)} 이체 실패 건 확인 부탁드립니다."),
    (
        "ko",
        "insurance",
        lambda r: f"증권번호 {_n(r, 4)}-{_n(r, 7)}-{_n(r, 2)} 계약의 만기일은 {_date(r)}입니다.",
    ),
    (
        "ko",
        "insurance",
        lambda r: (
            f"사고 접수번호 {r.randint(2023, 2026)}-{_n(r, 7)} 건, 보험료 {r.randint(10, 99)}만 {_n(r, 3)}원"
        ),
    ),
    ("ko", "public", lambda r: f"주민번호 {_impossible_rrn(r)} 은 날짜가 말이 안 되는 번호라 오류가 나요."),
    (
        "ko",
        "public",
        lambda r: f"마스킹된 주민번호 {_n(r, 6)}-{r.choice('1234')}****** 형식으로 표시해 주세요.",
    ),
    (
        "ko",
        "public",
        lambda r: f"사건번호 {r.randint(2019, 2025)}가합{_n(r, 5)} 재판 기일은 {_date(r)}입니다.",
    ),
    (
        "ko",
        "public",
        lambda r: f"우편번호 {_n(r, 5)}, 건물번호 {r.randint(1, 300)}-{r.randint(1, 30)} 맞나요?",
    ),
    ("ko", "public", lambda r: f"좌표는 위도 37.{_n(r, 4)}, 경도 126.{_n(r, 4)}입니다."),
    (
        "ko",
        "it",
        lambda r: (
            f"버전 {r.randint(1, 20)}.{r.randint(0, 9)}.{r.randint(0, 99)} 배포 후 빌드 번호 {_n(r, 10)}에서 에러가 납니다."
        ),
    ),
    (
        "ko",
        "it",
        lambda r: (
            f"크롬 {r.randint(100, 130)}.0.{r.randint(1000, 6999)}.{r.randint(10, 200)} 버전에서 재현됩니다."
        ),
    ),
    ("ko", "it", lambda r: f"OID 1.3.6.1.4.1.{r.randint(1000, 99999)}.{r.randint(1, 9)} 값을 SNMP로 읽어요."),
    ("ko", "it", lambda r: f"타임스탬프 {r.randint(1600000000, 1799999999)} 를 날짜로 바꿔줘."),
    ("ko", "it", lambda r: f"에러 코드 0x{_n(r, 8)} 와 로그 라인 {r.randint(100, 99999)}를 확인해 주세요."),
    (
        "ko",
        "hr",
        lambda r: f"사번 {_n(r, 8)} 직원의 {r.randint(2020, 2026)}년 연차는 {r.randint(10, 25)}일입니다.",
    ),
    (
        "ko",
        "hr",
        lambda r: (
            f"회의는 {_date(r)} {r.randint(9, 18)}:{r.choice(['00', '30'])}부터 {r.randint(1, 3)}시간, 회의실 {r.randint(1, 20)}0{r.randint(1, 9)}호"
        ),
    ),
    (
        "ko",
        "commerce",
        lambda r: (
            f"ISBN {r.choice(['978', '979'])}-89-{_n(r, 4)}-{_n(r, 3)}-{_n(r, 1)} 도서 {r.randint(2, 20)}권 주문"
        ),
    ),
    ("ko", "commerce", lambda r: f"ISBN {r.choice(['978', '979'])}89{_n(r, 8)} 책 재고 있나요?"),
    ("ko", "commerce", lambda r: f"사업자번호 {_bad_brn(r)} 는 검증에서 틀렸다고 나와요."),
    (
        "ko",
        "public",
        lambda r: (
            f"전자세금계산서 승인번호 {r.randint(2024, 2026)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}-{_n(r, 8)}-{_n(r, 8)} 확인"
        ),
    ),
    (
        "ko",
        "telecom",
        lambda r: f"{r.randint(1800, 1899)}-{r.randint(1900, 1999)}년대 통신 역사 자료를 정리해줘.",
    ),
    (
        "ko",
        "telecom",
        lambda r: (
            f"데이터 {r.randint(1, 100)}GB 요금제 월 {r.randint(10, 99)},{_n(r, 3)}원, 약정 {r.choice([12, 24, 36])}개월"
        ),
    ),
    ("ko", "telecom", lambda r: f"마스킹된 번호 010-****-{_n(r, 4)} 고객님께 안내 문자 발송"),
    (
        "en",
        "commerce",
        lambda r: (
            f"Order #{_n(r, 10)} shipped on {_date(r)}; tracking number {_n(r, 12)} with {r.choice(['CJ', 'Hanjin', 'Lotte'])}."
        ),
    ),
    (
        "en",
        "commerce",
        lambda r: (
            f"Part number {r.choice(['M', 'S', 'R', 'D'])}{_n(r, 3)}-{_n(r, 4)} and SKU {_n(r, 8)} are out of stock."
        ),
    ),
    (
        "en",
        "it",
        lambda r: (
            f"Upgrade from version {r.randint(1, 9)}.{r.randint(0, 20)}.{r.randint(0, 99)} to build {_n(r, 6)} before {_date(r)}."
        ),
    ),
    (
        "en",
        "it",
        lambda r: (
            f"The job ran at {r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d} and processed {r.randint(1000, 999999):,} rows."
        ),
    ),
    (
        "en",
        "bank",
        lambda r: f"Invoice {_n(r, 10)} for ${r.randint(100, 9999)}.{_n(r, 2)} is due on {_date(r)}.",
    ),
    (
        "en",
        "public",
        lambda r: (
            f"Coordinates {r.randint(33, 38)}.{_n(r, 5)}, {r.randint(124, 130)}.{_n(r, 5)} mark the site."
        ),
    ),
    (
        "mixed",
        "commerce",
        lambda r: (
            f"주문 {_n(r, 12)} tracking {_n(r, 4)}-{_n(r, 4)}-{_n(r, 4)}, 금액 ₩{r.randint(1, 999)},{_n(r, 3)}"
        ),
    ),
    (
        "mixed",
        "it",
        lambda r: (
            f"release v{r.randint(1, 5)}.{r.randint(0, 9)}.{r.randint(0, 9)}.{r.randint(0, 9)} 배포 완료, 빌드 {_n(r, 8)}"
        ),
    ),
    (
        "ko",
        "commerce",
        lambda r: f"통신판매업 신고번호 {r.randint(2015, 2025)}-서울강남-{_n(r, 5)}, 단말기 SM-S{_n(r, 3)}N",
    ),
    (
        "ko",
        "bank",
        lambda r: (
            f"대출 한도 {r.randint(1, 9)}억 {r.randint(1, 9)},{_n(r, 3)}만원, 상환 {r.randint(12, 360)}개월, 월 {r.randint(100, 999)},{_n(r, 3)}원"
        ),
    ),
    (
        "ko",
        "public",
        lambda r: (
            f"{r.randint(2000, 2025)}.{r.randint(1, 12)}.{r.randint(1, 28)}. ~ {r.randint(2000, 2025)}.{r.randint(1, 12)}.{r.randint(1, 28)}. 기간 동안 총 {r.randint(1, 999)}건"
        ),
    ),
    (
        "en",
        "it",
        lambda r: (
            f"Build {r.randint(1, 30)}.{r.randint(0, 9)}.{r.randint(1000, 9999)} reached {r.randint(10, 99)}.{_n(r, 1)}% coverage; commit {_n(r, 7)}"
        ),
    ),
    (
        "mixed",
        "commerce",
        lambda r: f"Tracking {_n(r, 4)} {_n(r, 4)} {_n(r, 4)} / 주문 {_n(r, 6)}-{_n(r, 7)} 배송 중",
    ),
    (
        "ko",
        "it",
        lambda r: (
            f"포트 {r.randint(1024, 65535)}, 타임아웃 {r.randint(1, 60)}초, 재시도 {r.randint(1, 9)}회, PID {_n(r, 5)}"
        ),
    ),
    ("en", "commerce", lambda r: f"UPC {_n(r, 12)} and EAN {_n(r, 13)} both refer to the same product."),
    (
        "ko",
        "public",
        lambda r: f"전화는 1588-****로 표시되고 카드는 ****-****-****-{_n(r, 4)} 로 마스킹됩니다.",
    ),
]

NEGATIVE_TEMPLATES: list[tuple[str, str, Callable[[random.Random], str]]] = _NEG
