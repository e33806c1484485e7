"""Billing: the paying accounts, their ledger, and the Stripe payments, invoices, subscriptions.

The balance lives on the billing account (the payer: a company itself, or a reseller paying
for several companies). ``companies.balance_cents`` is the company's own share of the same
ledger (the sum of the entries attributed to it). Both are changed only together with the
ledger entry that moves them, in the same transaction.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from askpro.kit.base import Base, IdMixin, TimestampMixin

LEDGER_KINDS = ("topup", "call_charge", "refund", "adjustment", "subscription_credit")
# Subscription states in which a company may run its agent without prepaid credit.
ACTIVE_SUBSCRIPTION_STATUSES = ("active", "trialing")


class BillingAccount(IdMixin, TimestampMixin, Base):
    __tablename__ = "billing_accounts"
    __table_args__ = (CheckConstraint("currency ~ '^[a-z]{3}$'", name="currency"),)

    name: Mapped[str] = mapped_column(String(200))
    # The Stripe customer lives on whichever account pays.
    stripe_customer_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    currency: Mapped[str] = mapped_column(String(3), server_default="eur")
    balance_cents: Mapped[int] = mapped_column(server_default="0")
    out_of_credit: Mapped[bool] = mapped_column(Boolean, server_default="false")
    out_of_credit_since: Mapped[dt.datetime | None]
    payment_failed_at: Mapped[dt.datetime | None]
    payment_failure_reason: Mapped[str | None] = mapped_column(Text)


class LedgerEntry(IdMixin, Base):
    """One signed movement of money on an account; never updated, never deleted."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("kind", "external_reference"),
        CheckConstraint(
            "kind IN ('topup', 'call_charge', 'refund', 'adjustment', 'subscription_credit')",
            name="kind",
        ),
        Index(None, "billing_account_id", "created_at"),
        Index(None, "company_id", "created_at"),
    )

    billing_account_id: Mapped[int] = mapped_column(
        ForeignKey("billing_accounts.id", ondelete="RESTRICT")
    )
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(30))
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    external_reference: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    # Who caused the entry: "stripe", "retell", or the operator of an adjustment.
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class Payment(IdMixin, TimestampMixin, Base):
    """A Stripe payment, keyed by its PaymentIntent (or charge / session when there is none)."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed', 'refunded', 'partially_refunded')",
            name="status",
        ),
        Index(None, "billing_account_id", "created_at"),
        Index(None, "company_id"),
        Index(None, "stripe_charge_id"),
        Index(None, "stripe_checkout_session_id"),
    )

    billing_account_id: Mapped[int] = mapped_column(
        ForeignKey("billing_accounts.id", ondelete="RESTRICT")
    )
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="SET NULL"))
    reference: Mapped[str] = mapped_column(String(100), unique=True)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(100))
    stripe_checkout_session_id: Mapped[str | None] = mapped_column(String(100))
    stripe_charge_id: Mapped[str | None] = mapped_column(String(100))
    purpose: Mapped[str] = mapped_column(String(20), server_default="topup")
    status: Mapped[str] = mapped_column(String(20))
    amount_cents: Mapped[int]
    amount_refunded_cents: Mapped[int] = mapped_column(server_default="0")
    currency: Mapped[str] = mapped_column(String(3))
    failure_code: Mapped[str | None] = mapped_column(String(100))
    failure_message: Mapped[str | None] = mapped_column(Text)
    stripe_created_at: Mapped[dt.datetime | None]


class Invoice(IdMixin, TimestampMixin, Base):
    __tablename__ = "invoices"
    __table_args__ = (
        Index(None, "billing_account_id", "created_at"),
        Index(None, "stripe_subscription_id"),
    )

    billing_account_id: Mapped[int] = mapped_column(
        ForeignKey("billing_accounts.id", ondelete="RESTRICT")
    )
    stripe_invoice_id: Mapped[str] = mapped_column(String(100), unique=True)
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(100))
    number: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(30))
    billing_reason: Mapped[str | None] = mapped_column(String(50))
    amount_due_cents: Mapped[int]
    amount_paid_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    period_start: Mapped[dt.datetime | None]
    period_end: Mapped[dt.datetime | None]
    hosted_invoice_url: Mapped[str | None] = mapped_column(Text)
    invoice_pdf: Mapped[str | None] = mapped_column(Text)
    attempt_count: Mapped[int] = mapped_column(Integer, server_default="0")
    paid_at: Mapped[dt.datetime | None]


class Subscription(IdMixin, TimestampMixin, Base):
    """The newest known state of a Stripe subscription (older events never overwrite it)."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        Index(None, "billing_account_id", "status"),
        Index(None, "company_id"),
    )

    billing_account_id: Mapped[int] = mapped_column(
        ForeignKey("billing_accounts.id", ondelete="RESTRICT")
    )
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="SET NULL"))
    stripe_subscription_id: Mapped[str] = mapped_column(String(100), unique=True)
    status: Mapped[str] = mapped_column(String(30))
    price_id: Mapped[str | None] = mapped_column(String(100))
    product_id: Mapped[str | None] = mapped_column(String(100))
    unit_amount_cents: Mapped[int | None]
    interval: Mapped[str | None] = mapped_column(String(20))
    quantity: Mapped[int] = mapped_column(Integer, server_default="1")
    included_minutes: Mapped[int] = mapped_column(Integer, server_default="0")
    current_period_start: Mapped[dt.datetime | None]
    current_period_end: Mapped[dt.datetime | None]
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, server_default="false")
    cancel_at: Mapped[dt.datetime | None]
    canceled_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    # The Stripe event (its `created`, seconds, and id) whose state this row holds.
    state_event_created: Mapped[int] = mapped_column(server_default="0")
    state_event_id: Mapped[str | None] = mapped_column(String(100))
