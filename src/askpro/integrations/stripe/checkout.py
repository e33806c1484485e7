"""``checkout.session.*``: a paid top-up session credits the account; a subscription links.

``completed`` and ``async_payment_succeeded`` of the same session credit once: the topup
is keyed by the session's PaymentIntent (the same key ``payment_intent.succeeded`` uses),
and the ledger's UNIQUE (kind, external_reference) is the guarantee. With Stripe's
Adaptive Pricing the customer pays in a local currency; the session credits the amount in
askpro's own currency (:meth:`CheckoutSession.settlement`).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from askpro.billing import ledger
from askpro.billing.accounts import clear_payment_failure, flag_payment_failure
from askpro.billing.metrics import PAYMENT_FAILURES
from askpro.billing.payments import PaymentFacts, record_payment
from askpro.billing.subscriptions import link_subscription
from askpro.integrations.stripe.matching import match_account, remember_customer
from askpro.integrations.stripe.objects import CheckoutSession, from_epoch, parse_event
from askpro.models import WebhookEvent
from askpro.observability import get_logger
from askpro.webhooks.registry import handles

log = get_logger(__name__)


def topup_reference(checkout: CheckoutSession) -> str:
    return checkout.payment_intent or checkout.id


@handles(
    "stripe",
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
)
async def on_checkout_session(session: AsyncSession, event: WebhookEvent) -> None:
    stripe_event = parse_event(event)
    checkout = CheckoutSession.model_validate(stripe_event.data.object)
    if checkout.mode not in ("payment", "subscription"):
        log.info("billing.checkout.ignored", session_id=checkout.id, mode=checkout.mode)
        return
    match = await match_account(
        session,
        what=f"checkout session {checkout.id}",
        metadata=checkout.metadata,
        customer=checkout.customer,
        client_reference_id=checkout.client_reference_id,
        link_customer=False,
    )
    if checkout.mode == "subscription":
        if checkout.subscription:
            await link_subscription(
                session,
                checkout.subscription,
                account_id=match.account.id,
                company_id=match.company_id,
            )
        await remember_customer(session, match, checkout.customer)
        return
    failed = stripe_event.type == "checkout.session.async_payment_failed"
    paid = checkout.payment_status == "paid" and not failed
    # Adaptive Pricing: credit what askpro settles, never the customer's local amount.
    amount_total, currency = checkout.settlement(match.account.currency)
    await record_payment(
        session,
        PaymentFacts(
            reference=topup_reference(checkout),
            account_id=match.account.id,
            company_id=match.company_id,
            status="succeeded" if paid else ("failed" if failed else "pending"),
            amount_cents=amount_total or 0,
            currency=currency,
            payment_intent_id=checkout.payment_intent,
            checkout_session_id=checkout.id,
            stripe_created_at=from_epoch(checkout.created),
        ),
    )
    if failed:
        await remember_customer(session, match, checkout.customer)
        PAYMENT_FAILURES.labels(stripe_event.type).inc()
        await flag_payment_failure(
            session, match.account.id, f"asynchronous payment of {checkout.id} failed"
        )
        return
    if not paid or not amount_total or amount_total <= 0:
        # Delayed methods (SEPA, …): the money arrives with async_payment_succeeded.
        log.info("billing.checkout.nothing_to_credit_yet", session_id=checkout.id)
        await remember_customer(session, match, checkout.customer)
        return
    await ledger.post_entry(
        session,
        account_id=match.account.id,
        company_id=match.company_id,
        kind="topup",
        amount_cents=amount_total,
        currency=currency,
        external_reference=topup_reference(checkout),
        actor="stripe",
        description=f"top-up via checkout session {checkout.id}",
    )
    await clear_payment_failure(session, match.account.id)
    await remember_customer(session, match, checkout.customer)
