"""Invoice settings (``billing:``): VAT and the issuer named in each invoice; see docs/invoices.md."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BillingSettings(_Strict):
    """Monthly invoices in KRW (docs/invoices.md): VAT and the issuer named in each invoice's header."""

    # VAT (부가가치세) as a fraction of the subtotal; the VAT amount is truncated to whole won.
    vat_rate: Decimal = Field(Decimal("0.1"), ge=0, le=1, max_digits=8)
    issuer_name: str | None = Field(None, max_length=200)
    business_registration_number: str | None = Field(None, max_length=32)  # 사업자등록번호
    representative: str | None = Field(None, max_length=100)  # 대표자
    address: str | None = Field(None, max_length=300)
    contact: str | None = Field(None, max_length=200)  # an e-mail address or a telephone number
    # A month may be invoiced this long after it ended (UTC): by then every replica's ledger buffer
    # and spool has flushed (they flush in seconds; a spool left by a database outage replays when
    # the database is back, so wait longer after one).
    settle_minutes: int = Field(60, ge=0, le=31 * 24 * 60)
