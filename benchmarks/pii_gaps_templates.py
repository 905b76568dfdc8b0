"""Templates of the recall-gap sets written by ``pii_gaps.py`` (see its docstring for the syntax).

The *test* templates were written together with the *dev* ones, before any change to the
detector, with other wording, layouts and look-alikes; they were scored once, at the end.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Template:
    """One prompt shape.

    Attributes:
        text: the prompt; ``{TYPE}`` an identifier, ``{!KIND}`` a look-alike, ``⏎`` a line break.
        copies: how many prompts to draw from it.
        cont: what follows a line break inside a value (None: random indentation or none).
        crlf: write line breaks as ``\\r\\n``.
        sep: the separator between digit groups (wrapped set; default ``-``).
        styles: the wrap styles to draw from (default: all).
        full_width: write bare digits full-width (bare set).
    """

    text: str
    copies: int = 3
    cont: str | None = None
    crlf: bool = False
    sep: str = "-"
    styles: tuple[str, ...] = ()
    full_width: bool = False


T = Template

WRAPPED_DEV = [
    T("연락처는 {PHONE}로 부탁드립니다."),
    T("고객님 휴대폰 번호 {PHONE} 맞으신가요?", crlf=True),
    T("> 안녕하세요, 제 번호는 {PHONE} 입니다.⏎> 확인 부탁드려요.", cont="> "),
    T(">> 회신 번호: {PHONE}⏎>> 감사합니다", cont=">> "),
    T("Hi team,⏎please call me back at {PHONE} after 3pm.⏎Thanks", cont=""),
    T("사무실 전화 {LANDLINE} 로 연락 주세요."),
    T("본사 대표전화는 {LANDLINE} 입니다.", sep=" "),
    T("휴대전화 {PHONE}", sep=" ", styles=("space", "inside", "bare")),
    T("주민등록번호 {RRN} 으로 조회해 주세요."),
    T("신청인 주민번호: {RRN}⏎주소: 서울시 마포구", crlf=True),
    T("> 피보험자 주민등록번호 {RRN} 확인했습니다.", cont="> "),
    T("아이 주민등록번호 {RRN_NEW} 로 등록했어요."),
    T("외국인등록번호 {ARN} 입니다."),
    T("카드번호 {CARD} 로 결제했어요."),
    T("결제 카드: {CARD}⏎유효기간 09/27", sep=" "),
    T("> card number {CARD}, exp 11/28", cont="> "),
    T("Amex {AMEX} 로 결제 부탁드립니다."),
    T("사업자등록번호 {BRN} 로 세금계산서 발행해 주세요."),
    T("법인등록번호 {CRN} 확인 부탁드립니다."),
    T("환불 계좌: {BANK} (예금주 김민수)"),
    T("입금 계좌번호 {BANK} 로 보내 주세요.", crlf=True),
    T("운전면허번호 {LICENSE} 입니다."),
    T("성명: 박서준⏎주민등록번호: {RRN}⏎휴대폰: {PHONE}"),
    T("PDF에서 복사한 내용입니다: 신청인 연락처 {PHONE} 이메일 없음"),
    T("    연락처: {PHONE}", cont="    "),
    T("- 담당자 휴대폰 {PHONE}⏎- 사무실 {LANDLINE}", cont="  "),
    T("문자로 받은 번호 {PHONE} 로 전화했는데 안 받아요.", styles=("bare", "inside")),
    T("주민번호 {RRN}", styles=("bare", "inside", "before")),
    T("카드 {CARD} 결제 취소 요청", styles=("bare", "space")),
    T("계좌 {BANK} 로 환불", styles=("inside", "before")),
    # added after the test set was scored: a hanging indent deeper than 8 characters (the cause of
    # its wrapped-phone misses)
    T("Name:    Kim Minji⏎Phone:   {PHONE}⏎Email:   none", cont="         "),
    T("신청인 연락처 : {PHONE}", cont="               "),
]

WRAPPED_DEV_NEGATIVE = [
    T("주문번호 {!ORDER} 배송 조회 부탁드려요."),
    T("운송장번호 {!TRACKING} 로 조회해 보세요.", sep=" "),
    T("> 송장번호 {!TRACKING} 확인 바랍니다.", cont="> "),
    T("결제일 {!DAY} 오후 2시", sep="."),
    T("로그 시각 {!EPOCH} 에 오류가 발생했습니다."),
    T("승인번호 {!APPROVAL} 로 취소 처리됨", crlf=True),
    T("합계 금액 {!PRICE}원⏎부가세 포함"),
    T("전자세금계산서 승인번호 {!INVOICE}"),
    T("바코드 {!BARCODE} 상품 재고 확인"),
    T("쿠폰번호 {!COUPON} 등록해 주세요.", sep=" "),
    T("회원번호 {!MEMBER} 로 로그인"),
    T("주문 {!ORDER}⏎{!ORDER}⏎{!ORDER}", cont=""),
    T("입금 내역⏎{!PRICE}⏎{!PRICE}⏎{!PRICE}", cont=""),
    T("기간: {!DAY} ~ {!DAY}"),
    T("예약번호 {!MEMBER} 체크인 15:00"),
    T("입금 확인 부탁드립니다.⏎{~PRICE}⏎{~PRICE}⏎{~PRICE}⏎{~PRICE}", cont=""),
    T("계좌 이체 내역: 1. {~PRICE}원⏎2. {~PRICE}원⏎3. {~PRICE}원", cont=""),
    T("로그⏎{~EPOCH}⏎{~EPOCH}⏎{~EPOCH}", cont=""),
    T("주문번호⏎{~ORDER}⏎결제일⏎{~DAY}", cont="", sep="-"),
    T("승인번호 {!APPROVAL}⏎{~APPROVAL}", cont=""),
    T("| 주문 | 금액 |⏎| {~ORDER} | {~PRICE} |⏎| {~ORDER} | {~PRICE} |", cont="", sep=""),
]

WRAPPED_TEST = [
    T("제 핸드폰은 {PHONE}이에요. 문자 주세요."),
    T("보호자 연락처 : {PHONE} (어머니)", crlf=True),
    T("> On Mon, 김지훈 wrote:⏎> 급하시면 {PHONE} 으로 전화 주세요.⏎> ", cont="> "),
    T("Contact: {PHONE}⏎Office: {LANDLINE}", cont="         "),
    T("민원인 전화번호 {LANDLINE}, 담당 부서로 이관 예정"),
    T("회신 받을 번호 {PHONE}", sep=".", styles=("after", "before", "inside", "bare")),
    T("010으로 시작하는 번호 {PHONE} 로 인증번호가 안 와요"),
    T("가입자 주민등록번호는 {RRN}이며 본인 확인 완료"),
    T("> 주민번호 {RRN} 로 조회되는 계약이 없습니다.", cont="> ", crlf=True),
    T("신생아 주민번호 {RRN_NEW}, 출생신고 완료"),
    T("체류 외국인 등록번호 {ARN} (E-9)"),
    T("법인카드 {CARD} 한도 조회 부탁드립니다."),
    T("카드 번호를 불러드릴게요: {CARD}", sep=" "),
    T("Please charge the Amex {AMEX}.", cont=""),
    T("거래처 사업자번호 {BRN} 상호 (주)한빛"),
    T("등기부등본상 법인등록번호 {CRN}"),
    T("급여 이체 계좌 {BANK} 로 변경 요청합니다.", crlf=True),
    T("> 환불은 {BANK} 계좌로 부탁드립니다.", cont="> "),
    T("면허번호 {LICENSE} 로 렌터카 예약"),
    T("이름 한지민 | 연락처 {PHONE} | 주민번호 {RRN}"),
    T("스캔본 텍스트: 신청인 휴대폰 {PHONE} 서명", styles=("bare", "space")),
    T("주민등록번호(뒷자리 포함) {RRN}", styles=("inside", "bare")),
    T("카드번호 {CARD} 분실 신고", sep=" ", styles=("space", "inside")),
    T("\t전화: {LANDLINE}", cont="\t"),
    T("1. 신청인 연락처: {PHONE}⏎2. 신청 사유: 이사", cont="   "),
]

WRAPPED_TEST_NEGATIVE = [
    T("주문번호: {!ORDER}⏎상품명: 무선 이어폰"),
    T("CJ대한통운 운송장 {!TRACKING} 배송 출발"),
    T("> 송장 {!TRACKING} 반송 처리", cont="> ", sep=" "),
    T("작성일 {!DAY}", sep="-"),
    T("created_at={!EPOCH}"),
    T("카드 승인번호 {!APPROVAL} 입니다.", cont="    "),
    T("총 결제금액 {!PRICE}원 (할부 3개월)"),
    T("세금계산서 승인번호: {!INVOICE}", crlf=True),
    T("상품 바코드 {!BARCODE}"),
    T("기프트 쿠폰 {!COUPON}", sep="-"),
    T("고객번호 {!MEMBER} 고객님 안녕하세요"),
    T("금액⏎{!PRICE}⏎{!PRICE}", cont=""),
    T("주문 내역: {!ORDER} / {!ORDER}"),
    T("배송 예정일 {!DAY}", sep="."),
    T("관리번호 {!MEMBER}⏎처리 완료"),
]

BARE_DEV = [
    T("연락처 {PHONE}로 연락 주세요."),
    T("제 번호는{PHONE}입니다"),
    T("휴대폰:{PHONE}"),
    T("전화번호 : {PHONE} (본인)"),
    T("번호{PHONE}로 문자 주세요"),
    T("연락처：{PHONE}", full_width=True),
    T("내일 3시에 {PHONE}번으로 전화 드릴게요."),
    T('{"name": "홍길동", "phone": "{PHONE}"}'),
    T("사무실 {LANDLINE}로 팩스 보내 주세요."),
    T("대표번호는{LANDLINE}이고 평일만 받습니다."),
    T("주민등록번호 {RRN}"),
    T("주민번호는{RRN}이에요"),
    T("주민번호:{RRN}", full_width=True),
    T("아이 주민등록번호 {RRN_NEW}로 신청했습니다."),
    T("외국인등록번호{ARN}입니다"),
    T("카드번호 {CARD}로 결제"),
    T("카드{CARD}결제 취소해 주세요"),
    T("card: {CARD}"),
    T("사업자등록번호 {BRN}으로 발행 부탁드립니다."),
    T("사업자번호:{BRN}"),
    T("법인등록번호{CRN}"),
    T("계좌번호 {BANK}로 입금해 주세요."),
    T("환불계좌:{BANK}(신한)"),
    T("운전면허번호 {LICENSE}"),
    T("2024년 3월 15일에 가입했고 연락처는 {PHONE}, 주민번호는 {RRN}입니다."),
    T("고객 정보를 요약해 줘. 이름 김하늘, 휴대폰 {PHONE}, 카드 {CARD}, 주문 3건."),
    T("tel={PHONE}&name=kim"),
    T("[연락처] {PHONE} [주민번호] {RRN}"),
    T("이력서_김민지_{PHONE}.pdf 파일 첨부합니다"),
    T("HP{PHONE} / E-mail 없음"),
    T("Tel{LANDLINE} 평일 9시-6시"),
    T("[{PHONE}] 고객님 문의"),
    T("연락처 : {PHONE}입니다.", full_width=True),
]

BARE_DEV_NEGATIVE = [
    T("주문번호 {!ORDER} 상품이 출고되었습니다."),
    T("운송장번호 {!TRACKING} 배송중"),
    T("세금계산서 승인번호{!INVOICE}"),
    T("카드 승인번호 {!APPROVAL}"),
    T("결제일 {!DAY}"),
    T("timestamp {!EPOCH}"),
    T("결제 금액 {!PRICE}원"),
    T("바코드{!BARCODE}"),
    T("쿠폰번호 {!COUPON} 입력"),
    T("회원번호:{!MEMBER}"),
    T("주문번호：{!ORDER}", full_width=True),
    T("예약번호 {!MEMBER}로 조회하세요"),
    T("상품코드 SKU{!MEMBER} 재고 문의"),
    T("파일명 report_{!ORDER}.csv 를 열어 주세요"),
    T("user_id=u{!MEMBER}&ts={!EPOCH}"),
    T("송장 {!TRACKING}.jpg 첨부"),
    T("주문내역_{!ORDER}.xlsx"),
]

BARE_TEST = [
    T("핸드폰번호{PHONE}으로 인증번호 보내주세요"),
    T("연락 가능한 번호: {PHONE}"),
    T("보호자({PHONE})에게 먼저 연락 바랍니다."),
    T("HP {PHONE} / 자택 {LANDLINE}"),
    T("수신번호 {PHONE}", full_width=True),
    T("주민등록번호{RRN}본인확인"),
    T("주민번호 뒷자리까지 {RRN} 이렇게 적으면 되나요?"),
    T("출생신고한 아기 주민번호 {RRN_NEW}"),
    T("외국인 등록번호: {ARN}"),
    T("결제카드 {CARD} 한도 상향 요청"),
    T("카드번호：{CARD}", full_width=True),
    T("카드 {AMEX}로 해외결제"),
    T("사업자등록번호:{BRN} 대표 이영희"),
    T("법인번호 {CRN}"),
    T("환불받을 계좌 {BANK} 국민은행"),
    T("계좌{BANK}로 송금했습니다"),
    T("면허번호 {LICENSE} 적성검사 안내"),
    T("아래 내용 정리해 줘: 고객 이준호 휴대폰 {PHONE} 주민번호 {RRN} 상담일 2024.03.15"),
    T('{"user": {"mobile": "{PHONE}", "rrn": "{RRN}"}}'),
    T("phone_number: {PHONE}"),
    T("전화번호는 {LANDLINE}번입니다"),
    T("SMS 발신 {PHONE} → 수신 {PHONE}"),
]

BARE_TEST_NEGATIVE = [
    T("주문번호{!ORDER}"),
    T("송장번호: {!TRACKING}"),
    T("국세청 승인번호 {!INVOICE}"),
    T("승인번호{!APPROVAL} 취소 완료"),
    T("발행일 {!DAY}"),
    T("epoch {!EPOCH} ms 아님"),
    T("총액{!PRICE}원"),
    T("EAN {!BARCODE}"),
    T("쿠폰 코드 {!COUPON}"),
    T("고객번호 {!MEMBER}"),
    T("관리번호 {!MEMBER} 처리완료"),
    T("주문 {!ORDER} 외 2건", full_width=True),
]

# (gap, split) -> (seed, templates)
SETS: dict[tuple[str, str], tuple[int, list[Template]]] = {
    ("wrapped", "dev"): (11, WRAPPED_DEV + WRAPPED_DEV_NEGATIVE),
    ("wrapped", "test"): (29, WRAPPED_TEST + WRAPPED_TEST_NEGATIVE),
    ("bare", "dev"): (13, BARE_DEV + BARE_DEV_NEGATIVE),
    ("bare", "test"): (31, BARE_TEST + BARE_TEST_NEGATIVE),
}
