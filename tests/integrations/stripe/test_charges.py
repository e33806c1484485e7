"""charge.failed and charge.refunded → the right rows; refunds debit exactly once."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from askpro.billing.errors import UnmatchedEvent
from askpro.billing.metrics import PAYMENT_FAILURES
from askpro.db import Database
from askpro.models import Payment
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
    charge,
    topup,
)


async def test_charge_failed_records_payment_flags_account_and_counts(database: Database) -> None:
    company_id, _ = await create_billed_company(database)
    await topup(database, company_id, "pi_first", 1000)  # links cus_charges to the account
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
    await topup(database, company_id, "pi_retry", 500)
    assert (await account_of(database, company_id)).payment_failed_at is None


async def test_late_charge_failed_never_downgrades_a_succeeded_payment(database: Database) -> None:
    company_id, _ = await create_billed_company(database)
    await topup(database, company_id, "pi_ok", 3000)
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
    await topup(database, company_id, "pi_refund", 3000)
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
    await topup(database, company_id, "pi_parts", 3000)
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
    await topup(database, company_id, "pi_early", 3000)
    await run_handlers(database, refund_id)
    assert (await account_of(database, company_id)).balance_cents == 0


async def test_refund_of_a_payment_that_was_not_a_topup_is_recorded_never_debited(
    database: Database,
) -> None:
    company_id, _ = await create_billed_company(database)
    await topup(database, company_id, "pi_topup_first", 1000)  # links cus_charges
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
