"""checkout.session.* and payment_intent.succeeded, from Stripe's own fixtures, lead to the
right rows; every path to the same money credits it once."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from askpro.billing.errors import UnmatchedEvent
from askpro.db import Database
from askpro.models import BillingAccount, Payment, Subscription
from askpro.observability import TRANSACTIONS
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


def paid_session(company_id: int, **overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "status": "complete",
        "payment_status": "paid",
        "amount_subtotal": 2500,
        "amount_total": 2500,
        "currency": "eur",
        "customer": "cus_topup_1",
        "metadata": {"company_id": str(company_id)},
    }
    fields.update(overrides)
    return stripe_object("checkout.session", **fields)


async def payments(database: Database) -> list[Payment]:
    async with database.sessions() as session:
        return list((await session.execute(select(Payment).order_by(Payment.id))).scalars())


async def test_completed_paid_session_tops_up_records_payment_and_links_customer(
    database: Database,
) -> None:
    company_id, _ = await create_billed_company(database)
    checkout = paid_session(company_id)
    await deliver(database, "stripe", stripe_event("checkout.session.completed", checkout))

    [entry] = await ledger_rows(database)
    assert (entry.kind, entry.amount_cents, entry.currency) == ("topup", 2500, "eur")
    assert entry.external_reference == checkout["payment_intent"]
    assert entry.company_id == company_id
    account = await account_of(database, company_id)
    assert account.balance_cents == 2500
    assert account.stripe_customer_id == "cus_topup_1"
    assert account.out_of_credit is False
    [payment] = await payments(database)
    assert payment.status == "succeeded"
    assert payment.amount_cents == 2500
    assert payment.stripe_checkout_session_id == checkout["id"]
    assert payment.reference == checkout["payment_intent"]


async def test_exactly_one_topup_for_concurrent_duplicates_redelivery_and_async_success(
    database: Database,
) -> None:
    """10 concurrent deliveries + a redelivery of the same evt id a day later + the same
    session under checkout.session.async_payment_succeeded → exactly one topup."""
    company_id, _ = await create_billed_company(database)
    checkout = paid_session(company_id)
    completed = stripe_event(
        "checkout.session.completed", checkout, event_id="evt_once_1", created=1_764_300_000
    )
    inbox_id = await store_event(database, "stripe", completed)

    retries_before = TRANSACTIONS.labels("test.webhook", "retry")._value.get()
    await asyncio.gather(*(run_handlers(database, inbox_id) for _ in range(10)))
    assert (
        TRANSACTIONS.labels("test.webhook", "retry")._value.get() == retries_before
    )  # no deadlock
    # The redelivery a day later is the same event (same evt id); the hub keeps one inbox
    # row per evt id and a replay runs the handlers on it again.
    await run_handlers(database, inbox_id)
    async_succeeded = stripe_event(
        "checkout.session.async_payment_succeeded",
        checkout,
        event_id="evt_once_2",
        created=1_764_300_000 + 86_400,
    )
    await deliver(database, "stripe", async_succeeded)
    # And the PaymentIntent's own event for the same money.
    intent = stripe_object(
        "payment_intent",
        id=checkout["payment_intent"],
        status="succeeded",
        amount=2500,
        amount_received=2500,
        currency="eur",
        metadata={"company_id": str(company_id)},
    )
    await deliver(database, "stripe", stripe_event("payment_intent.succeeded", intent))

    topups = await ledger_rows(database, kind="topup")
    assert len(topups) == 1
    account = await account_of(database, company_id)
    assert account.balance_cents == 2500 == await ledger_sum(database, account.id)
    assert len(await payments(database)) == 1


async def test_async_session_waits_for_async_payment_succeeded(database: Database) -> None:
    company_id, _ = await create_billed_company(database)
    unpaid = paid_session(company_id, payment_status="unpaid")
    await deliver(database, "stripe", stripe_event("checkout.session.completed", unpaid))
    assert await ledger_rows(database) == []
    [payment] = await payments(database)
    assert payment.status == "pending"

    paid = paid_session(company_id)
    await deliver(
        database, "stripe", stripe_event("checkout.session.async_payment_succeeded", paid)
    )
    assert [entry.amount_cents for entry in await ledger_rows(database)] == [2500]
    [payment] = await payments(database)
    assert payment.status == "succeeded"


async def test_async_payment_failed_records_failure_and_flags_the_account(
    database: Database,
) -> None:
    company_id, _ = await create_billed_company(database)
    failed = paid_session(company_id, payment_status="unpaid")
    await deliver(database, "stripe", stripe_event("checkout.session.async_payment_failed", failed))
    assert await ledger_rows(database) == []
    [payment] = await payments(database)
    assert payment.status == "failed"
    account = await account_of(database, company_id)
    assert account.payment_failed_at is not None


async def test_subscription_checkout_links_subscription_and_customer(database: Database) -> None:
    company_id, _ = await create_billed_company(database)
    checkout = paid_session(
        company_id,
        mode="subscription",
        payment_intent=None,
        subscription="sub_from_checkout",
        customer="cus_subscriber",
    )
    await deliver(database, "stripe", stripe_event("checkout.session.completed", checkout))
    assert await ledger_rows(database) == []
    account = await account_of(database, company_id)
    assert account.stripe_customer_id == "cus_subscriber"
    async with database.sessions() as session:
        subscription = await session.scalar(select(Subscription))
    assert subscription is not None
    assert subscription.stripe_subscription_id == "sub_from_checkout"
    assert subscription.billing_account_id == account.id
    assert subscription.company_id == company_id


async def test_payment_intent_topup_by_metadata(database: Database) -> None:
    company_id, _ = await create_billed_company(database)
    intent = stripe_object(
        "payment_intent",
        status="succeeded",
        amount=1099,
        amount_received=1099,
        currency="eur",
        metadata={"company_id": str(company_id)},
    )
    await deliver(database, "stripe", stripe_event("payment_intent.succeeded", intent))
    [entry] = await ledger_rows(database)
    assert (entry.kind, entry.amount_cents, entry.external_reference) == (
        "topup",
        1099,
        "pi_1PgafyB7WZ01zgkWSjxsAJo3",
    )


async def test_payment_intent_that_is_not_a_topup_never_credits(database: Database) -> None:
    company_id, _ = await create_billed_company(database)
    await deliver(
        database, "stripe", stripe_event("checkout.session.completed", paid_session(company_id))
    )
    invoice_intent = stripe_object(
        "payment_intent",
        id="pi_subscription_invoice",
        status="succeeded",
        amount=4900,
        amount_received=4900,
        currency="eur",
        customer="cus_topup_1",
    )
    await deliver(database, "stripe", stripe_event("payment_intent.succeeded", invoice_intent))
    # A stranger's PaymentIntent (unknown customer, no metadata) is not ours: no error.
    await deliver(
        database,
        "stripe",
        stripe_event("payment_intent.succeeded", stripe_object("payment_intent", id="pi_other")),
    )
    assert [entry.amount_cents for entry in await ledger_rows(database)] == [2500]
    purposes = {payment.reference: payment.purpose for payment in await payments(database)}
    assert purposes["pi_subscription_invoice"] == "other"
    assert "pi_other" not in purposes


async def test_currency_other_than_the_accounts_fails_loudly(database: Database) -> None:
    company_id, _ = await create_billed_company(database)
    usd = paid_session(company_id, currency="usd")
    event_id = await store_event(
        database, "stripe", stripe_event("checkout.session.completed", usd)
    )
    with pytest.raises(Exception, match="USD"):
        await run_handlers(database, event_id)
    assert await ledger_rows(database) == []


# Stripe Adaptive Pricing: the customer pays 29.00 USD for a 25.00 EUR top-up. Current API
# versions keep the session in askpro's currency and put the customer's in
# `presentment_details`; the PaymentIntent arrives in the customer's currency.
PRESENTED = {"presentment_amount": 2900, "presentment_currency": "usd"}


async def test_adaptive_pricing_intent_in_the_customers_currency_is_credited_once_via_checkout(
    database: Database,
) -> None:
    company_id, _ = await create_billed_company(database)
    checkout = paid_session(company_id, presentment_details=PRESENTED)
    intent = stripe_object(
        "payment_intent",
        id=checkout["payment_intent"],
        status="succeeded",
        amount=2900,
        amount_received=2900,
        currency="usd",
        customer="cus_topup_1",
        metadata={"company_id": str(company_id), "askpro_purpose": "topup"},
        presentment_details=PRESENTED,
    )
    await deliver(database, "stripe", stripe_event("payment_intent.succeeded", intent))
    await deliver(database, "stripe", stripe_event("checkout.session.completed", checkout))
    await deliver(database, "stripe", stripe_event("payment_intent.succeeded", intent))

    [entry] = await ledger_rows(database)
    assert (entry.kind, entry.amount_cents, entry.currency) == ("topup", 2500, "eur")
    assert entry.external_reference == checkout["payment_intent"]
    assert (await account_of(database, company_id)).balance_cents == 2500
    [payment] = await payments(database)
    assert (payment.amount_cents, payment.currency, payment.status) == (2500, "eur", "succeeded")


async def test_legacy_adaptive_pricing_session_credits_its_currency_conversion_amount(
    database: Database,
) -> None:
    """Sessions created before 2025-03-31: `currency`/`amount_total` are the customer's and
    `currency_conversion` (as in Stripe's fixture) holds askpro's own amount."""
    company_id, _ = await create_billed_company(database)
    fixture_conversion = stripe_object("checkout.session")["currency_conversion"]
    checkout = paid_session(
        company_id,
        currency="usd",
        amount_subtotal=2900,
        amount_total=2900,
        currency_conversion={
            **fixture_conversion,
            "amount_subtotal": 2500,
            "amount_total": 2500,
            "source_currency": "eur",
        },
    )
    await deliver(database, "stripe", stripe_event("checkout.session.completed", checkout))
    [entry] = await ledger_rows(database)
    assert (entry.amount_cents, entry.currency) == (2500, "eur")


async def test_unknown_company_fails_then_replay_succeeds_once_it_exists(
    database: Database,
) -> None:
    """The handler raises a clear error (the hub marks the event failed and retries);
    after the company is created the replay of the same stored event succeeds."""
    missing_company_id = 4242
    checkout = paid_session(missing_company_id, customer="cus_later")
    event_id = await store_event(
        database, "stripe", stripe_event("checkout.session.completed", checkout)
    )

    with pytest.raises(UnmatchedEvent, match="names company 4242, which does not exist"):
        await run_handlers(database, event_id)
    assert await ledger_rows(database) == []
    async with database.sessions() as session:
        assert await session.scalar(select(BillingAccount)) is None  # rolled back entirely

    async with database.sessions() as session:
        from askpro.models import Company

        session.add(Company(id=missing_company_id, name="Arrived later"))
        await session.commit()
    await run_handlers(database, event_id)
    [entry] = await ledger_rows(database)
    assert (entry.company_id, entry.amount_cents) == (missing_company_id, 2500)


async def test_unmatched_customer_without_metadata_fails_clearly(database: Database) -> None:
    checkout = stripe_object(
        "checkout.session",
        payment_status="paid",
        amount_total=500,
        currency="eur",
        customer="cus_nobody",
    )
    event_id = await store_event(
        database, "stripe", stripe_event("checkout.session.completed", checkout)
    )
    with pytest.raises(UnmatchedEvent, match="cus_nobody is not linked to any account"):
        await run_handlers(database, event_id)
