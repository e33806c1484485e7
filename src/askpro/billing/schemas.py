"""Validated input and output of the billing feature."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, HttpUrl


class BalanceOut(BaseModel):
    company_id: int
    billing_account_id: int | None
    account_name: str | None
    currency: str
    account_balance_cents: int
    company_balance_cents: int
    out_of_credit: bool
    payment_failed_at: dt.datetime | None = None


class LedgerEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    billing_account_id: int
    company_id: int | None
    kind: str
    amount_cents: int
    currency: str
    external_reference: str
    description: str | None
    actor: str
    created_at: dt.datetime


class PaymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    billing_account_id: int
    company_id: int | None
    reference: str
    purpose: str
    status: str
    amount_cents: int
    amount_refunded_cents: int
    currency: str
    stripe_payment_intent_id: str | None
    stripe_checkout_session_id: str | None
    stripe_charge_id: str | None
    failure_code: str | None
    failure_message: str | None
    created_at: dt.datetime


class InvoiceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    billing_account_id: int
    stripe_invoice_id: str
    stripe_subscription_id: str | None
    number: str | None
    status: str
    billing_reason: str | None
    amount_due_cents: int
    amount_paid_cents: int
    currency: str
    period_start: dt.datetime | None
    period_end: dt.datetime | None
    hosted_invoice_url: str | None
    invoice_pdf: str | None
    paid_at: dt.datetime | None


class SubscriptionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    billing_account_id: int
    company_id: int | None
    stripe_subscription_id: str
    status: str
    price_id: str | None
    product_id: str | None
    unit_amount_cents: int | None
    interval: str | None
    quantity: int
    included_minutes: int
    current_period_start: dt.datetime | None
    current_period_end: dt.datetime | None
    cancel_at_period_end: bool
    cancel_at: dt.datetime | None
    canceled_at: dt.datetime | None
    ended_at: dt.datetime | None


class CheckoutSessionCreate(BaseModel):
    """A top-up through Stripe Checkout (amount in cents of the account's currency)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "amount_cents": 5000,
                    "success_url": "https://salon.example/billing/done",
                    "cancel_url": "https://salon.example/billing",
                }
            ]
        },
    )

    amount_cents: int = Field(ge=500, le=1_000_000)
    success_url: HttpUrl
    cancel_url: HttpUrl


class CheckoutSessionOut(BaseModel):
    id: str
    url: str | None
    amount_cents: int
    currency: str


class ReconcileReport(BaseModel):
    accounts_checked: int
    companies_checked: int
    differences: list[dict[str, int | str]]
