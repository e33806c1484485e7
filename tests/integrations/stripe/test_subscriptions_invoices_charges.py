"""customer.subscription.*, invoice.*, charge.failed and charge.refunded → the right rows."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from sqlalchemy import select

from askpro.billing.errors import UnmatchedEvent
from askpro.billing.metrics import PAYMENT_FAILURES
from askpro.billing.service import is_out_of_credit
from askpro.db import Database
from askpro.models import Invoice, Payment, Subscription
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


async def test_subscription_created_stores_plan_period_and_covers_calls(
    database: Database,
) -> None:
    company_id, _ = await create_billed_company(database)
    await deliver(
        database,
        "stripe",
        stripe_event("customer.subscription.created", subscription(company_id, "active")),
    )
    row = await stored_subscription(database)
    assert row.stripe_subscription_id == SUB
    assert row.status == "active"
    assert row.price_id == "price_1PgafmB7WZ01zgkW6dKueIc5"
    assert row.unit_amount_cents == 2000
    assert row.interval == "month"
    assert row.included_minutes == 100
    # The current period lives on the subscription item in current API versions.
    assert row.current_period_end is not None
    assert int(row.current_period_end.timestamp()) == 976287773
    async with database.sessions() as session:
        assert await is_out_of_credit(session, company_id) is False
    account = await account_of(database, company_id)
    assert account.stripe_customer_id == "cus_sub_1"


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
async def test_subscription_events_in_any_order_end_in_the_newest_state(
    database: Database, order: tuple[int, ...]
) -> None:
    company_id, _ = await create_billed_company(database)
    events = [
        stripe_event(
            "customer.subscription.created", subscription(company_id, "trialing"), created=1000
        ),
        stripe_event(
            "customer.subscription.updated",
            subscription(company_id, "active", cancel_at_period_end=True),
            created=2000,
            previous_attributes={"status": "trialing"},
        ),
        stripe_event(
            "customer.subscription.deleted", subscription(company_id, "canceled"), created=3000
        ),
    ]
    for index in order:
        await deliver(database, "stripe", events[index])
    row = await stored_subscription(database)
    assert row.status == "canceled"
    assert row.state_event_created == 3000
    assert row.state_event_id == events[2]["id"]


async def test_reverse_order_keeps_newest_non_terminal_state(database: Database) -> None:
    company_id, _ = await create_billed_company(database)
    newest = stripe_event(
        "customer.subscription.updated",
        subscription(company_id, "past_due", cancel_at_period_end=True),
        created=5000,
    )
    older = stripe_event(
        "customer.subscription.updated", subscription(company_id, "active"), created=4000
    )
    oldest = stripe_event(
        "customer.subscription.created", subscription(company_id, "incomplete"), created=3000
    )
    for event in (newest, older, oldest):
        await deliver(database, "stripe", event)
    row = await stored_subscription(database)
    assert (row.status, row.cancel_at_period_end, row.state_event_created) == (
        "past_due",
        True,
        5000,
    )


async def test_concurrent_subscription_events_converge_on_the_newest(database: Database) -> None:
    company_id, _ = await create_billed_company(database)
    statuses = ["incomplete", "trialing", "active", "past_due", "active", "unpaid", "active"]
    ids = [
        await store_event(
            database,
            "stripe",
            stripe_event(
                "customer.subscription.updated", subscription(company_id, status), created=100 + i
            ),
        )
        for i, status in enumerate(statuses)
    ]
    # A first event links the account; then all of them at once, newest first.
    await run_handlers(database, ids[0])
    await asyncio.gather(*(run_handlers(database, event_id) for event_id in reversed(ids)))
    row = await stored_subscription(database)
    assert (row.status, row.state_event_created) == ("active", 106)


async def test_canceled_subscription_without_credit_makes_company_out_of_credit(
    database: Database,
) -> None:
    company_id, _ = await create_billed_company(database)
    await deliver(
        database,
        "stripe",
        stripe_event(
            "customer.subscription.created", subscription(company_id, "active"), created=1
        ),
    )
    async with database.sessions() as session:
        assert await is_out_of_credit(session, company_id) is False
    await deliver(
        database,
        "stripe",
        stripe_event(
            "customer.subscription.deleted", subscription(company_id, "canceled"), created=2
        ),
    )
    async with database.sessions() as session:
        assert await is_out_of_credit(session, company_id) is True


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


async def _topup(database: Database, company_id: int, intent_id: str, amount: int) -> None:
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


async def test_charge_failed_records_payment_flags_account_and_counts(database: Database) -> None:
    company_id, _ = await create_billed_company(database)
    await _topup(database, company_id, "pi_first", 1000)  # links cus_charges to the account
    before = PAYMENT_FAILURES.labels("charge.failed")._value.get()
    failed = charge(
        "pi_declined",
        id="ch_declined",
        status="failed",
        failure_code="card_declined",
        failure_message="Your card was declined.",
        paid=False,
    )
    await deliver(database, "stripe", stripe_event("charge.failed", failed))
    async with database.sessions() as session:
        payment = await session.scalar(select(Payment).where(Payment.reference == "pi_declined"))
    assert payment is not None
    assert (payment.status, payment.failure_code, payment.stripe_charge_id) == (
        "failed",
        "card_declined",
        "ch_declined",
    )
    account = await account_of(database, company_id)
    assert account.payment_failed_at is not None
    assert "card_declined" in (account.payment_failure_reason or "")
    assert PAYMENT_FAILURES.labels("charge.failed")._value.get() == before + 1
    assert [entry.amount_cents for entry in await ledger_rows(database)] == [1000]
    # A later successful top-up clears the failure flag.
    await _topup(database, company_id, "pi_retry", 500)
    assert (await account_of(database, company_id)).payment_failed_at is None


async def test_late_charge_failed_never_downgrades_a_succeeded_payment(database: Database) -> None:
    company_id, _ = await create_billed_company(database)
    await _topup(database, company_id, "pi_ok", 3000)
    earlier_attempt = charge(
        "pi_ok", id="ch_first_try", status="failed", failure_code="expired_card"
    )
    await deliver(database, "stripe", stripe_event("charge.failed", earlier_attempt))
    async with database.sessions() as session:
        payment = await session.scalar(select(Payment).where(Payment.reference == "pi_ok"))
    assert payment is not None
    assert payment.status == "succeeded"


async def test_refunds_partial_full_reordered_and_concurrent_debit_exactly_the_refund(
    database: Database,
) -> None:
    company_id, _ = await create_billed_company(database)
    await _topup(database, company_id, "pi_refund", 3000)
    partial = stripe_event(
        "charge.refunded", charge("pi_refund", id="ch_r", amount_refunded=1000, refunded=False)
    )
    full = stripe_event(
        "charge.refunded", charge("pi_refund", id="ch_r", amount_refunded=3000, refunded=True)
    )
    partial_id = await store_event(database, "stripe", partial)
    full_id = await store_event(database, "stripe", full)
    # Newest first, then everything again concurrently: only what is new is debited.
    await run_handlers(database, full_id)
    await asyncio.gather(
        *(run_handlers(database, i) for i in (partial_id, full_id, partial_id, full_id))
    )

    refunds = await ledger_rows(database, kind="refund")
    assert sum(entry.amount_cents for entry in refunds) == -3000
    account = await account_of(database, company_id)
    assert account.balance_cents == 0 == await ledger_sum(database, account.id)
    assert account.out_of_credit is True
    async with database.sessions() as session:
        payment = await session.scalar(select(Payment).where(Payment.reference == "pi_refund"))
    assert payment is not None
    assert (payment.status, payment.amount_refunded_cents) == ("refunded", 3000)


async def test_partial_refunds_in_order_each_debit_their_part(database: Database) -> None:
    company_id, _ = await create_billed_company(database)
    await _topup(database, company_id, "pi_parts", 3000)
    for total in (500, 1200, 1200, 3000):
        event = stripe_event(
            "charge.refunded", charge("pi_parts", id="ch_p", amount_refunded=total)
        )
        await deliver(database, "stripe", event)
    assert [entry.amount_cents for entry in await ledger_rows(database, kind="refund")] == [
        -500,
        -700,
        -1800,
    ]


async def test_refund_before_its_topup_is_recorded_fails_then_succeeds(database: Database) -> None:
    company_id, _ = await create_billed_company(database)
    refund_id = await store_event(
        database,
        "stripe",
        stripe_event("charge.refunded", charge("pi_early", id="ch_e", amount_refunded=3000)),
    )
    with pytest.raises(UnmatchedEvent, match="not recorded"):
        await run_handlers(database, refund_id)
    await _topup(database, company_id, "pi_early", 3000)
    await run_handlers(database, refund_id)
    assert (await account_of(database, company_id)).balance_cents == 0


async def test_refund_of_a_payment_that_was_not_a_topup_is_recorded_never_debited(
    database: Database,
) -> None:
    company_id, _ = await create_billed_company(database)
    await _topup(database, company_id, "pi_topup_first", 1000)  # links cus_charges
    subscription_payment = stripe_object(
        "payment_intent",
        id="pi_subscription_fee",
        status="succeeded",
        amount=4900,
        amount_received=4900,
        currency="eur",
        customer="cus_charges",
    )
    await deliver(
        database, "stripe", stripe_event("payment_intent.succeeded", subscription_payment)
    )
    refund = charge("pi_subscription_fee", id="ch_fee", amount=4900, amount_refunded=4900)
    await deliver(database, "stripe", stripe_event("charge.refunded", refund))
    assert [entry.kind for entry in await ledger_rows(database)] == ["topup"]
    async with database.sessions() as session:
        payment = await session.scalar(
            select(Payment).where(Payment.reference == "pi_subscription_fee")
        )
    assert payment is not None
    assert (payment.purpose, payment.status, payment.amount_refunded_cents) == (
        "other",
        "refunded",
        4900,
    )


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
