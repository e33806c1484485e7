"""Retell call_ended → one call_charge per call id, exactly once; out-of-credit follows."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from askpro.billing.charging import billable_minutes
from askpro.billing.errors import UnknownCompany
from askpro.billing.metrics import UNCHARGED_CALLS
from askpro.billing.service import adjust, is_out_of_credit
from askpro.db import Database
from askpro.models import Call, Company, PhoneNumber
from askpro.observability import TRANSACTIONS
from askpro.webhooks.registry import handlers_for
from tests.fixtures.billing import (
    account_of,
    create_billed_company,
    deliver,
    ledger_rows,
    ledger_sum,
    retell_call_ended,
    run_handlers,
    store_event,
    stripe_event,
    stripe_object,
)


@pytest.mark.parametrize(
    ("duration_ms", "minutes"),
    [(0, 0), (1, 1), (59_999, 1), (60_000, 1), (60_001, 2), (15_791, 1), (600_000, 10)],
)
def test_billable_minutes_round_up_started_minutes(duration_ms: int, minutes: int) -> None:
    assert billable_minutes(duration_ms) == minutes


def test_call_charging_is_registered_for_retell_call_ended() -> None:
    names = [handler.__qualname__ for handler in handlers_for("retell", "call_ended")]
    assert "charge_ended_call" in names


async def test_call_ended_three_times_concurrently_charges_once(database: Database) -> None:
    company_id, number = await create_billed_company(database, price_per_minute_cents=15)
    body = retell_call_ended("call_three_times", number, duration_ms=125_000)  # 3 minutes
    inbox_id = await store_event(database, "retell", body)
    retries_before = TRANSACTIONS.labels("test.webhook", "retry")._value.get()
    await asyncio.gather(*(run_handlers(database, inbox_id) for _ in range(3)))
    # The company's first billing event, three times at once: no deadlock to retry either.
    assert TRANSACTIONS.labels("test.webhook", "retry")._value.get() == retries_before

    [charge] = await ledger_rows(database)
    assert (charge.kind, charge.amount_cents, charge.external_reference) == (
        "call_charge",
        -45,
        "call_three_times",
    )
    account = await account_of(database, company_id)
    assert account.balance_cents == -45 == await ledger_sum(database, account.id)
    async with database.sessions() as session:
        company = await session.get(Company, company_id)
        assert company is not None
        assert company.balance_cents == -45


async def test_duration_from_timestamps_when_duration_ms_is_absent(database: Database) -> None:
    _, number = await create_billed_company(database, price_per_minute_cents=10)
    # The Retell sample: 1714608491736 - 1714608475945 = 15.8 s → 1 minute.
    await deliver(database, "retell", retell_call_ended("call_sample", number))
    [charge] = await ledger_rows(database)
    assert charge.amount_cents == -10


async def test_outbound_call_is_charged_to_the_caller_id_company(database: Database) -> None:
    company_id, number = await create_billed_company(database, price_per_minute_cents=10)
    body = retell_call_ended(
        "call_out", "+4917600000001", duration_ms=61_000, direction="outbound", from_number=number
    )
    await deliver(database, "retell", body)
    [charge] = await ledger_rows(database)
    assert (charge.company_id, charge.amount_cents) == (company_id, -20)


async def test_unknown_number_is_not_charged_and_a_replay_charges_once_it_exists(
    database: Database,
) -> None:
    body = retell_call_ended("call_early", "+4930999000111", duration_ms=60_000)
    inbox_id = await store_event(database, "retell", body)
    before = UNCHARGED_CALLS._value.get()
    await run_handlers(database, inbox_id)  # must not fail the calls feature's transaction
    assert UNCHARGED_CALLS._value.get() == before + 1
    assert await ledger_rows(database) == []
    async with database.sessions() as session:
        company = Company(name="Late", price_per_minute_cents=7)
        session.add(company)
        await session.flush()
        session.add(PhoneNumber(number="+4930999000111", company_id=company.id))
        await session.commit()
    await run_handlers(database, inbox_id)
    await run_handlers(database, inbox_id)
    assert [entry.amount_cents for entry in await ledger_rows(database)] == [-7]


async def test_the_company_recorded_on_the_call_wins(database: Database) -> None:
    recorded_id, _ = await create_billed_company(database, price_per_minute_cents=30)
    _, number = await create_billed_company(database, price_per_minute_cents=10)
    async with database.sessions() as session:
        session.add(Call(call_id="call_recorded", company_id=recorded_id, to_number=number))
        await session.commit()
    await deliver(database, "retell", retell_call_ended("call_recorded", number, duration_ms=1))
    [entry] = await ledger_rows(database)
    assert (entry.company_id, entry.amount_cents) == (recorded_id, -30)


async def test_free_company_and_zero_duration_are_not_charged(database: Database) -> None:
    _, free_number = await create_billed_company(database, price_per_minute_cents=0)
    _, paid_number = await create_billed_company(database, price_per_minute_cents=10)
    await deliver(
        database, "retell", retell_call_ended("call_free", free_number, duration_ms=90_000)
    )
    body = retell_call_ended("call_zero", paid_number, duration_ms=0, start_timestamp=None)
    await deliver(database, "retell", body)
    assert await ledger_rows(database) == []


async def test_running_out_of_credit_flags_and_a_topup_clears(database: Database) -> None:
    company_id, number = await create_billed_company(database, price_per_minute_cents=100)
    async with database.sessions() as session:
        assert await is_out_of_credit(session, company_id) is False  # no billing yet
        await adjust(session, company_id, 150, reason="welcome credit", actor="test")
        await session.commit()
        assert await is_out_of_credit(session, company_id) is False

    await deliver(database, "retell", retell_call_ended("call_a", number, duration_ms=60_000))
    async with database.sessions() as session:
        assert await is_out_of_credit(session, company_id) is False  # 50 left
    await deliver(database, "retell", retell_call_ended("call_b", number, duration_ms=60_000))
    account = await account_of(database, company_id)
    assert (account.balance_cents, account.out_of_credit) == (-50, True)
    assert account.out_of_credit_since is not None

    async with database.sessions() as session:
        await adjust(session, company_id, 1000, reason="top-up by phone", actor="test")
        await session.commit()
        assert await is_out_of_credit(session, company_id) is False
    account = await account_of(database, company_id)
    assert account.out_of_credit_since is None


async def test_is_out_of_credit_of_an_unknown_company_is_an_error(database: Database) -> None:
    async with database.sessions() as session:
        with pytest.raises(UnknownCompany):
            await is_out_of_credit(session, 987654)


async def test_reseller_account_pays_for_several_companies(database: Database) -> None:
    from askpro.billing.accounts import attach_company, create_reseller_account

    first_id, first_number = await create_billed_company(database, price_per_minute_cents=10)
    second_id, second_number = await create_billed_company(database, price_per_minute_cents=20)
    async with database.sessions() as session:
        reseller = await create_reseller_account(session, "Agency Nord")
        await attach_company(session, first_id, reseller.id)
        await attach_company(session, second_id, reseller.id)
        await session.commit()
        reseller_id = reseller.id
    async with database.sessions() as session:
        await adjust(session, first_id, 100, reason="credit", actor="test")
        await session.commit()
    await deliver(
        database, "retell", retell_call_ended("call_r1", first_number, duration_ms=60_000)
    )
    await deliver(
        database, "retell", retell_call_ended("call_r2", second_number, duration_ms=60_000)
    )

    async with database.sessions() as session:
        companies = {
            company.id: company.balance_cents
            for company in (await session.execute(select(Company))).scalars()
        }
    assert companies == {first_id: 90, second_id: -20}  # each company's own share
    account = await account_of(database, second_id)
    assert account.id == reseller_id
    assert account.balance_cents == 70 == await ledger_sum(database, reseller_id)
    async with database.sessions() as session:
        assert await is_out_of_credit(session, second_id) is False  # the reseller pays


async def test_flag_is_exact_when_a_subscription_ends_while_calls_are_charged(
    database: Database,
) -> None:
    """Calls charged concurrently with the subscription's cancellation: the final flag is
    the one the final state implies (the posting locks the account before deciding)."""
    for round_number in range(3):
        company_id, number = await create_billed_company(database, price_per_minute_cents=10)
        subscription = stripe_object(
            "subscription",
            id=f"sub_race_{round_number}",
            status="active",
            customer=f"cus_race_{round_number}",
            metadata={"company_id": str(company_id)},
        )
        await deliver(
            database,
            "stripe",
            stripe_event("customer.subscription.created", subscription, created=1),
        )
        deleted = await store_event(
            database,
            "stripe",
            stripe_event(
                "customer.subscription.deleted", dict(subscription, status="canceled"), created=2
            ),
        )
        calls = [
            await store_event(
                database,
                "retell",
                retell_call_ended(f"call_race_{round_number}_{i}", number, duration_ms=60_000),
            )
            for i in range(6)
        ]
        await asyncio.gather(
            *(run_handlers(database, event_id) for event_id in [*calls[:3], deleted, *calls[3:]])
        )
        account = await account_of(database, company_id)
        assert account.balance_cents == -60
        assert account.out_of_credit is True
