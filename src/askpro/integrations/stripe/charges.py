"""``charge.failed`` (record, flag the account, count) and ``charge.refunded`` (refund entry)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from askpro.billing.accounts import flag_payment_failure
from askpro.billing.errors import UnmatchedEvent
from askpro.billing.metrics import PAYMENT_FAILURES
from askpro.billing.payments import PaymentFacts, apply_refund, find_payment, record_payment
from askpro.integrations.stripe.matching import Match, match_account
from askpro.integrations.stripe.objects import Charge, from_epoch, parse_event
from askpro.models import WebhookEvent
from askpro.observability import get_logger
from askpro.webhooks.registry import handles

log = get_logger(__name__)


async def _match_charge(session: AsyncSession, charge: Charge) -> tuple[int, int | None]:
    """(account id, company id): from the recorded payment, else metadata / customer."""
    payment = await find_payment(session, charge.payment_intent, charge.id)
    if payment is not None:
        return payment.billing_account_id, payment.company_id
    match: Match = await match_account(
        session, what=f"charge {charge.id}", metadata=charge.metadata, customer=charge.customer
    )
    return match.account.id, match.company_id


@handles("stripe", "charge.failed")
async def on_charge_failed(session: AsyncSession, event: WebhookEvent) -> None:
    stripe_event = parse_event(event)
    charge = Charge.model_validate(stripe_event.data.object)
    account_id, company_id = await _match_charge(session, charge)
    reason = charge.failure_message or (charge.outcome.seller_message if charge.outcome else None)
    await record_payment(
        session,
        PaymentFacts(
            reference=charge.payment_intent or charge.id,
            account_id=account_id,
            company_id=company_id,
            status="failed",
            amount_cents=charge.amount,
            currency=charge.currency,
            payment_intent_id=charge.payment_intent,
            charge_id=charge.id,
            failure_code=charge.failure_code,
            failure_message=reason,
            stripe_created_at=from_epoch(charge.created),
        ),
    )
    await flag_payment_failure(
        session, account_id, f"charge {charge.id} failed: {charge.failure_code or reason or '?'}"
    )
    PAYMENT_FAILURES.labels(stripe_event.type).inc()
    log.warning(
        "billing.charge.failed",
        charge_id=charge.id,
        account_id=account_id,
        failure_code=charge.failure_code,
    )


@handles("stripe", "charge.refunded")
async def on_charge_refunded(session: AsyncSession, event: WebhookEvent) -> None:
    """Debit what was refunded of a top-up; ``amount_refunded`` is Stripe's running total."""
    charge = Charge.model_validate(parse_event(event).data.object)
    reference = charge.payment_intent or charge.id
    if await find_payment(session, reference, charge.id) is None:
        # The top-up event may not have been processed yet: fail now, retry later.
        raise UnmatchedEvent(
            f"refund of charge {charge.id}: payment {reference} is not recorded (yet)"
        )
    await apply_refund(
        session,
        payment_reference=reference,
        charge_id=charge.id,
        refunded_total_cents=charge.amount_refunded,
        currency=charge.currency,
    )
