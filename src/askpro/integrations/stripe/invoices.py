"""``invoice.payment_succeeded`` / ``invoice.paid`` (record; credit included minutes once)
and ``invoice.payment_failed`` (record, flag the account, count)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from askpro.billing.accounts import clear_payment_failure, flag_payment_failure
from askpro.billing.errors import UnmatchedEvent
from askpro.billing.invoices import InvoiceFacts, credit_included_minutes, record_invoice
from askpro.billing.metrics import PAYMENT_FAILURES
from askpro.billing.subscriptions import find_subscription
from askpro.integrations.stripe.matching import match_account
from askpro.integrations.stripe.objects import Invoice, from_epoch, parse_event
from askpro.models import Subscription, WebhookEvent
from askpro.webhooks.registry import handles


async def _record(
    session: AsyncSession, invoice: Invoice, *, status: str
) -> tuple[int, Subscription | None]:
    subscription_id = invoice.subscription_id
    subscription = await find_subscription(session, subscription_id) if subscription_id else None
    if subscription is not None:
        account_id = subscription.billing_account_id
    else:
        match = await match_account(
            session,
            what=f"invoice {invoice.id}",
            metadata=invoice.metadata,
            customer=invoice.customer,
        )
        account_id = match.account.id
    period_start, period_end = invoice.service_period
    paid_at = invoice.status_transitions.paid_at if invoice.status_transitions else None
    await record_invoice(
        session,
        InvoiceFacts(
            stripe_invoice_id=invoice.id,
            account_id=account_id,
            stripe_subscription_id=subscription_id,
            number=invoice.number,
            status=status,
            billing_reason=invoice.billing_reason,
            amount_due_cents=invoice.amount_due,
            amount_paid_cents=invoice.amount_paid,
            currency=invoice.currency,
            period_start=from_epoch(period_start),
            period_end=from_epoch(period_end),
            hosted_invoice_url=invoice.hosted_invoice_url,
            invoice_pdf=invoice.invoice_pdf,
            attempt_count=invoice.attempt_count,
            paid_at=from_epoch(paid_at),
        ),
    )
    return account_id, subscription


@handles("stripe", "invoice.payment_succeeded", "invoice.paid")
async def on_invoice_paid(session: AsyncSession, event: WebhookEvent) -> None:
    invoice = Invoice.model_validate(parse_event(event).data.object)
    subscription_id = invoice.subscription_id
    known = await find_subscription(session, subscription_id) if subscription_id else None
    if subscription_id and (known is None or known.state_event_created == 0):
        # Stripe may send invoice.paid before customer.subscription.created (a Checkout
        # link alone does not tell the plan): retry later, when its included minutes are known.
        raise UnmatchedEvent(
            f"invoice {invoice.id} pays subscription {subscription_id}, not known yet"
        )
    account_id, subscription = await _record(session, invoice, status="paid")
    if subscription is not None:
        await credit_included_minutes(
            session,
            stripe_invoice_id=invoice.id,
            subscription=subscription,
            currency=invoice.currency,
        )
    await clear_payment_failure(session, account_id)  # after the posting: lock order


@handles("stripe", "invoice.payment_failed")
async def on_invoice_payment_failed(session: AsyncSession, event: WebhookEvent) -> None:
    stripe_event = parse_event(event)
    invoice = Invoice.model_validate(stripe_event.data.object)
    account_id, _ = await _record(session, invoice, status=invoice.status or "open")
    await flag_payment_failure(
        session,
        account_id,
        f"invoice {invoice.id} payment failed (attempt {invoice.attempt_count})",
    )
    PAYMENT_FAILURES.labels(stripe_event.type).inc()
