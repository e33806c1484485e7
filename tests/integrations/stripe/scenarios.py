"""Stripe objects for the subscription, invoice and charge tests (from Stripe's fixtures)."""

from __future__ import annotations

from sqlalchemy import select

from askpro.db import Database
from askpro.models import Subscription
from tests.fixtures.billing import deliver, stripe_event, stripe_object

SUB = "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw"


def subscription(company_id: int, status: str, **overrides: object) -> dict[str, object]:
    body = stripe_object(
        "subscription",
        status=status,
        customer="cus_sub_1",
        cancel_at_period_end=False,
        cancel_at=None,
        canceled_at=None,
        ended_at=None,
        metadata={"company_id": str(company_id), "included_minutes": "100"},
    )
    body.update(overrides)
    return body


async def stored_subscription(database: Database) -> Subscription:
    async with database.sessions() as session:
        row = await session.scalar(select(Subscription))
        assert row is not None
        return row


def paid_invoice(**overrides: object) -> dict[str, object]:
    body = stripe_object(
        "invoice",
        status="paid",
        amount_paid=4900,
        amount_due=4900,
        amount_remaining=0,
        currency="eur",
        customer="cus_sub_1",
        billing_reason="subscription_cycle",
        number="ASK-0001",
        hosted_invoice_url="https://invoice.stripe.com/i/test",
        parent={
            "type": "subscription_details",
            "subscription_details": {"metadata": {}, "subscription": SUB},
            "quote_details": None,
        },
    )
    body.update(overrides)
    return body


async def topup(database: Database, company_id: int, intent_id: str, amount: int) -> None:
    checkout = stripe_object(
        "checkout.session",
        status="complete",
        payment_status="paid",
        payment_intent=intent_id,
        amount_total=amount,
        currency="eur",
        customer="cus_charges",
        metadata={"company_id": str(company_id)},
    )
    await deliver(database, "stripe", stripe_event("checkout.session.completed", checkout))


def charge(intent_id: str, **overrides: object) -> dict[str, object]:
    body = stripe_object(
        "charge", payment_intent=intent_id, amount=3000, currency="eur", customer="cus_charges"
    )
    body.update(overrides)
    return body
