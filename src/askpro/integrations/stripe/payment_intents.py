"""``payment_intent.succeeded``: a top-up PaymentIntent credits its account once.

askpro's checkout sessions put ``company_id`` into the PaymentIntent's metadata, so this
event and ``checkout.session.completed`` credit the same reference (the PaymentIntent id)
and only one of them moves the balance. A PaymentIntent without askpro metadata (e.g. a
subscription invoice's) is recorded when its customer is known, never credited.

With Stripe's Adaptive Pricing a top-up's PaymentIntent may be in the customer's
presentment currency while the account keeps its balance in askpro's: that intent is the
checkout session's sibling, and the session's event credits the top-up once, in the
settlement currency. The intent then changes nothing (no payment row in a second currency,
no currency-mismatch error retried until dead).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from askpro.billing import ledger
from askpro.billing.accounts import account_by_stripe_customer, clear_payment_failure
from askpro.billing.payments import PaymentFacts, record_payment
from askpro.integrations.stripe.matching import match_account, remember_customer
from askpro.integrations.stripe.objects import PaymentIntent, from_epoch, parse_event
from askpro.models import WebhookEvent
from askpro.observability import get_logger
from askpro.webhooks.registry import handles

log = get_logger(__name__)

TOPUP_METADATA_KEYS = ("company_id", "billing_account_id")


@handles("stripe", "payment_intent.succeeded")
async def on_payment_intent_succeeded(session: AsyncSession, event: WebhookEvent) -> None:
    intent = PaymentIntent.model_validate(parse_event(event).data.object)
    is_topup = any(intent.metadata.get(key) for key in TOPUP_METADATA_KEYS)
    if not is_topup:
        account = (
            await account_by_stripe_customer(session, intent.customer) if intent.customer else None
        )
        if account is None:
            log.info("billing.payment_intent.not_ours", payment_intent=intent.id)
            return
        await record_payment(
            session,
            PaymentFacts(
                reference=intent.id,
                account_id=account.id,
                company_id=None,
                status="succeeded",
                amount_cents=intent.amount_received or intent.amount,
                currency=intent.currency,
                purpose="other",
                payment_intent_id=intent.id,
                charge_id=intent.latest_charge,
                stripe_created_at=from_epoch(intent.created),
            ),
        )
        return
    match = await match_account(
        session,
        what=f"payment intent {intent.id}",
        metadata=intent.metadata,
        customer=intent.customer,
        link_customer=False,
    )
    if intent.currency.lower() != match.account.currency:
        presented = intent.presentment_details
        log.info(
            "billing.payment_intent.presentment_currency",
            payment_intent=intent.id,
            currency=intent.currency,
            presentment_currency=presented.presentment_currency if presented else None,
            account_currency=match.account.currency,
            credited_by="checkout.session",
        )
        return
    amount = intent.amount_received or intent.amount
    await record_payment(
        session,
        PaymentFacts(
            reference=intent.id,
            account_id=match.account.id,
            company_id=match.company_id,
            status="succeeded",
            amount_cents=amount,
            currency=intent.currency,
            payment_intent_id=intent.id,
            charge_id=intent.latest_charge,
            stripe_created_at=from_epoch(intent.created),
        ),
    )
    await ledger.post_entry(
        session,
        account_id=match.account.id,
        company_id=match.company_id,
        kind="topup",
        amount_cents=amount,
        currency=intent.currency,
        external_reference=intent.id,
        actor="stripe",
        description=f"top-up via payment intent {intent.id}",
    )
    await clear_payment_failure(session, match.account.id)
    await remember_customer(session, match, intent.customer)
