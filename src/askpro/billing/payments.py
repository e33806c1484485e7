"""Payments: one row per Stripe payment, its status never moving backwards."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.billing import ledger
from askpro.models import Payment

# A later event may only move a payment forward: a late `charge.failed` of an earlier
# attempt must not turn a succeeded payment back into a failed one.
_STATUS_ORDER = "ARRAY['pending', 'failed', 'succeeded', 'partially_refunded', 'refunded']"


@dataclass(frozen=True)
class PaymentFacts:
    reference: str
    account_id: int
    company_id: int | None
    status: str
    amount_cents: int
    currency: str
    purpose: str = "topup"
    payment_intent_id: str | None = None
    checkout_session_id: str | None = None
    charge_id: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    stripe_created_at: dt.datetime | None = None


async def record_payment(session: AsyncSession, facts: PaymentFacts) -> None:
    """Insert or update the payment ``facts.reference`` (idempotent, monotonic status)."""
    statement = insert(Payment).values(
        reference=facts.reference,
        billing_account_id=facts.account_id,
        company_id=facts.company_id,
        status=facts.status,
        amount_cents=facts.amount_cents,
        currency=facts.currency.lower(),
        purpose=facts.purpose,
        stripe_payment_intent_id=facts.payment_intent_id,
        stripe_checkout_session_id=facts.checkout_session_id,
        stripe_charge_id=facts.charge_id,
        failure_code=facts.failure_code,
        failure_message=facts.failure_message,
        stripe_created_at=facts.stripe_created_at,
    )
    new = statement.excluded
    status: ColumnElement[str] = literal_column(
        f"CASE WHEN array_position({_STATUS_ORDER}, excluded.status) "
        f">= array_position({_STATUS_ORDER}, payments.status) "
        "THEN excluded.status ELSE payments.status END"
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["reference"],
            set_={
                "status": status,
                "amount_cents": func.greatest(Payment.amount_cents, new.amount_cents),
                "stripe_payment_intent_id": func.coalesce(
                    Payment.stripe_payment_intent_id, new.stripe_payment_intent_id
                ),
                "stripe_checkout_session_id": func.coalesce(
                    Payment.stripe_checkout_session_id, new.stripe_checkout_session_id
                ),
                "stripe_charge_id": func.coalesce(new.stripe_charge_id, Payment.stripe_charge_id),
                "company_id": func.coalesce(Payment.company_id, new.company_id),
                "failure_code": func.coalesce(new.failure_code, Payment.failure_code),
                "failure_message": func.coalesce(new.failure_message, Payment.failure_message),
                "stripe_created_at": func.coalesce(
                    Payment.stripe_created_at, new.stripe_created_at
                ),
                "updated_at": func.now(),
            },
        )
    )


async def find_payment(
    session: AsyncSession, *references: str | None, lock: bool = False
) -> Payment | None:
    """The payment stored under any of ``references`` (PaymentIntent, charge or session id)."""
    wanted = [reference for reference in references if reference]
    if not wanted:
        return None
    query = (
        select(Payment)
        .where(
            (Payment.reference.in_(wanted))
            | (Payment.stripe_charge_id.in_(wanted))
            | (Payment.stripe_checkout_session_id.in_(wanted))
        )
        .order_by(Payment.id)
        .limit(1)
        .execution_options(populate_existing=True)
    )
    if lock:
        query = query.with_for_update(key_share=True)
    return (await session.execute(query)).scalar_one_or_none()


async def apply_refund(
    session: AsyncSession,
    *,
    payment_reference: str,
    charge_id: str,
    refunded_total_cents: int,
    currency: str,
) -> ledger.Posting | None:
    """Bring the refunded amount of a top-up to ``refunded_total_cents`` (Stripe's cumulative).

    The payment row is locked, so concurrent or reordered `charge.refunded` events each add
    only what is new; a stale (smaller) total changes nothing. Only a top-up's refund is
    debited from the credit (a refunded subscription payment is just recorded). Returns the
    refund posting, or None when nothing was debited.
    """
    payment = await find_payment(session, payment_reference, charge_id, lock=True)
    if payment is None:
        return None
    new_total = min(refunded_total_cents, payment.amount_cents)
    delta = new_total - payment.amount_refunded_cents
    if delta <= 0:
        return None
    status = "refunded" if new_total >= payment.amount_cents else "partially_refunded"
    posting = None
    if payment.purpose == "topup":  # only credit askpro counted can be taken back
        posting = await ledger.post_entry(
            session,
            account_id=payment.billing_account_id,
            company_id=payment.company_id,
            kind="refund",
            amount_cents=-delta,
            currency=currency,
            external_reference=f"{charge_id}:refunded-to:{new_total}",
            actor="stripe",
            description=f"refund of {payment.reference} (refunded in total: {new_total})",
        )
    await session.execute(
        update(Payment)
        .where(Payment.id == payment.id)
        .values(
            amount_refunded_cents=new_total,
            status=status,
            stripe_charge_id=func.coalesce(Payment.stripe_charge_id, charge_id),
            updated_at=func.now(),
        )
    )
    return posting
