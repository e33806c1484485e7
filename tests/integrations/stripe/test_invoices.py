"""invoice.payment_succeeded / invoice.paid / invoice.payment_failed → the right rows."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from askpro.billing.errors import UnmatchedEvent
from askpro.billing.metrics import PAYMENT_FAILURES
from askpro.db import Database
from askpro.models import Invoice
from tests.fixtures.billing import (
    account_of,
    create_billed_company,
    deliver,
    ledger_rows,
    ledger_sum,
    run_handlers,
    store_event,
    stripe_event,
    stripe_object,
)
from tests.integrations.stripe.scenarios import (
    SUB,
    paid_invoice,
    subscription,
)


async def test_paid_subscription_invoice_is_recorded_and_credits_included_minutes_once(
    database: Database,
) -> None:
    company_id, _ = await create_billed_company(database, price_per_minute_cents=12)
    await deliver(
        database,
        "stripe",
        stripe_event("customer.subscription.created", subscription(company_id, "active")),
    )
    invoice = paid_invoice()
    await deliver(database, "stripe", stripe_event("invoice.payment_succeeded", invoice))
    await deliver(database, "stripe", stripe_event("invoice.paid", invoice))  # Stripe sends both

    async with database.sessions() as session:
        [row] = (await session.execute(select(Invoice))).scalars().all()
    assert (row.status, row.amount_paid_cents, row.stripe_subscription_id) == ("paid", 4900, SUB)
    assert row.number == "ASK-0001"
    assert row.period_start is not None  # the lines' service period
    [credit] = await ledger_rows(database)
    assert (credit.kind, credit.amount_cents, credit.external_reference) == (
        "subscription_credit",
        100 * 12,
        invoice["id"],
    )
    account = await account_of(database, company_id)
    assert account.balance_cents == 1200 == await ledger_sum(database, account.id)


async def test_invoice_before_its_subscription_fails_and_succeeds_on_retry(
    database: Database,
) -> None:
    company_id, _ = await create_billed_company(database, price_per_minute_cents=10)
    invoice_event = await store_event(
        database, "stripe", stripe_event("invoice.paid", paid_invoice())
    )
    with pytest.raises(UnmatchedEvent, match="not known yet"):
        await run_handlers(database, invoice_event)
    await deliver(
        database,
        "stripe",
        stripe_event("customer.subscription.created", subscription(company_id, "active")),
    )
    await run_handlers(database, invoice_event)
    assert [entry.amount_cents for entry in await ledger_rows(database)] == [1000]


async def test_legacy_invoice_subscription_field_is_read_too(database: Database) -> None:
    company_id, _ = await create_billed_company(database, price_per_minute_cents=10)
    await deliver(
        database,
        "stripe",
        stripe_event("customer.subscription.created", subscription(company_id, "active")),
    )
    legacy = paid_invoice(parent=None, subscription=SUB)
    await deliver(database, "stripe", stripe_event("invoice.payment_succeeded", legacy))
    assert [entry.kind for entry in await ledger_rows(database)] == ["subscription_credit"]


async def test_invoice_payment_failed_records_and_flags(database: Database) -> None:
    company_id, _ = await create_billed_company(database)
    await deliver(
        database,
        "stripe",
        stripe_event("customer.subscription.created", subscription(company_id, "active")),
    )
    before = PAYMENT_FAILURES.labels("invoice.payment_failed")._value.get()
    failed = paid_invoice(status="open", amount_paid=0, attempt_count=2)
    await deliver(database, "stripe", stripe_event("invoice.payment_failed", failed))
    async with database.sessions() as session:
        row = await session.scalar(select(Invoice))
    assert row is not None
    assert (row.status, row.attempt_count) == ("open", 2)
    assert (await account_of(database, company_id)).payment_failed_at is not None
    assert PAYMENT_FAILURES.labels("invoice.payment_failed")._value.get() == before + 1
    assert await ledger_rows(database) == []


async def test_invoice_after_checkout_link_waits_for_the_subscription_event(
    database: Database,
) -> None:
    """A Checkout link does not tell the plan: the invoice waits for the subscription event
    instead of crediting zero included minutes."""
    company_id, _ = await create_billed_company(database, price_per_minute_cents=10)
    checkout = stripe_object(
        "checkout.session",
        mode="subscription",
        status="complete",
        payment_status="paid",
        payment_intent=None,
        subscription=SUB,
        customer="cus_sub_1",
        currency="eur",
        metadata={"company_id": str(company_id)},
    )
    await deliver(database, "stripe", stripe_event("checkout.session.completed", checkout))
    invoice_event = await store_event(
        database, "stripe", stripe_event("invoice.paid", paid_invoice())
    )
    with pytest.raises(UnmatchedEvent, match="not known yet"):
        await run_handlers(database, invoice_event)
    await deliver(
        database,
        "stripe",
        stripe_event("customer.subscription.created", subscription(company_id, "active")),
    )
    await run_handlers(database, invoice_event)
    assert [entry.amount_cents for entry in await ledger_rows(database)] == [1000]
