"""Invoices (Stripe subscription and one-off invoices) and included-minutes credit."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, literal_column, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.billing import ledger
from askpro.models import Company, Invoice, Subscription

_PAID_STATUSES = "('paid', 'void', 'uncollectible')"


@dataclass(frozen=True)
class InvoiceFacts:
    stripe_invoice_id: str
    account_id: int
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
    attempt_count: int
    paid_at: dt.datetime | None


async def record_invoice(session: AsyncSession, facts: InvoiceFacts) -> None:
    """Upsert the invoice; a settled invoice (paid, void) never goes back to open."""
    statement = insert(Invoice).values(
        stripe_invoice_id=facts.stripe_invoice_id,
        billing_account_id=facts.account_id,
        stripe_subscription_id=facts.stripe_subscription_id,
        number=facts.number,
        status=facts.status,
        billing_reason=facts.billing_reason,
        amount_due_cents=facts.amount_due_cents,
        amount_paid_cents=facts.amount_paid_cents,
        currency=facts.currency.lower(),
        period_start=facts.period_start,
        period_end=facts.period_end,
        hosted_invoice_url=facts.hosted_invoice_url,
        invoice_pdf=facts.invoice_pdf,
        attempt_count=facts.attempt_count,
        paid_at=facts.paid_at,
    )
    new = statement.excluded
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["stripe_invoice_id"],
            set_={
                "status": literal_column(
                    f"CASE WHEN invoices.status IN {_PAID_STATUSES} THEN invoices.status "
                    "ELSE excluded.status END"
                ),
                "number": func.coalesce(new.number, Invoice.number),
                "amount_paid_cents": func.greatest(
                    Invoice.amount_paid_cents, new.amount_paid_cents
                ),
                "amount_due_cents": new.amount_due_cents,
                "attempt_count": func.greatest(Invoice.attempt_count, new.attempt_count),
                "hosted_invoice_url": func.coalesce(
                    new.hosted_invoice_url, Invoice.hosted_invoice_url
                ),
                "invoice_pdf": func.coalesce(new.invoice_pdf, Invoice.invoice_pdf),
                "paid_at": func.coalesce(Invoice.paid_at, new.paid_at),
                "updated_at": func.now(),
            },
        )
    )


async def credit_included_minutes(
    session: AsyncSession, *, stripe_invoice_id: str, subscription: Subscription, currency: str
) -> ledger.Posting | None:
    """Credit the plan's included minutes once per paid subscription invoice.

    Minutes become cents at the price per minute of the subscription's company (or, for an
    account-wide subscription, of the account's first company).
    """
    if subscription.included_minutes <= 0:
        return None
    company_query = select(Company.id, Company.price_per_minute_cents)
    if subscription.company_id is not None:
        company_query = company_query.where(Company.id == subscription.company_id)
    else:
        company_query = company_query.where(
            Company.billing_account_id == subscription.billing_account_id
        ).order_by(Company.id)
    row = (await session.execute(company_query.limit(1))).one_or_none()
    if row is None:
        return None
    company_id, price_per_minute = row
    amount = subscription.included_minutes * price_per_minute
    if amount <= 0:
        return None
    return await ledger.post_entry(
        session,
        account_id=subscription.billing_account_id,
        company_id=company_id,
        kind="subscription_credit",
        amount_cents=amount,
        currency=currency,
        external_reference=stripe_invoice_id,
        actor="stripe",
        description=(
            f"{subscription.included_minutes} included minutes of "
            f"{subscription.stripe_subscription_id}"
        ),
    )
