"""A seeded random sequence of 1,000 top-ups, call charges, refunds, adjustments and
redeliveries, run in concurrent batches through the real handlers: every balance equals
its ledger sum and the independently computed expectation, checked by ``askpro billing
reconcile`` run as a subprocess against the test database."""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.billing.accounts import attach_company, create_reseller_account
from askpro.billing.service import adjust
from askpro.db import Database
from askpro.models import BillingAccount, Company
from askpro.observability import TRANSACTIONS
from tests.fixtures.billing import (
    askpro,
    create_billed_company,
    retell_call_ended,
    run_handlers,
    store_event,
    stripe_event,
    stripe_object,
)

SEED = 20261128
OPERATIONS = 1000
BATCH = 8


@dataclass
class Model:
    """What the balances must be, computed without the database."""

    price: dict[int, int]
    expected_company: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    topups: list[tuple[int, str, int]] = field(default_factory=list)  # company, pi, amount
    refunded: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # pi → max total
    delivered: list[int] = field(default_factory=list)  # inbox ids already processed


async def test_randomized_sequence_keeps_every_balance_equal_to_its_ledger(
    database: Database, database_url: str
) -> None:
    rng = random.Random(SEED)
    companies: list[tuple[int, str]] = []
    for price in (7, 10, 15, 12, 9):
        companies.append(await create_billed_company(database, price_per_minute_cents=price))
    async with database.sessions() as session:  # the last two are paid for by a reseller
        reseller = await create_reseller_account(session, "Reseller")
        for company_id, _ in companies[3:]:
            await attach_company(session, company_id, reseller.id)
        await session.commit()
    model = Model(price={cid: p for (cid, _), p in zip(companies, (7, 10, 15, 12, 9), strict=True)})
    counts: dict[str, int] = defaultdict(int)
    serial = 0

    async def plan_one() -> Callable[[], Awaitable[None]]:
        """Choose the next operation; store its event now, return how to process it."""
        nonlocal serial
        serial += 1
        company_id, number = rng.choice(companies)
        roll = rng.random()
        if roll < 0.30:
            amount = rng.randrange(500, 20_000, 100)
            intent = f"pi_rand_{serial}"
            checkout = stripe_object(
                "checkout.session",
                id=f"cs_rand_{serial}",
                status="complete",
                payment_status="paid",
                payment_intent=intent,
                amount_total=amount,
                currency="eur",
                metadata={"company_id": str(company_id)},
            )
            event_id = await store_event(
                database, "stripe", stripe_event("checkout.session.completed", checkout)
            )
            model.topups.append((company_id, intent, amount))
            model.expected_company[company_id] += amount
            counts["topup"] += 1
        elif roll < 0.65:
            duration = rng.randrange(0, 900_000)
            body = retell_call_ended(f"call_rand_{serial}", number, duration_ms=duration)
            event_id = await store_event(database, "retell", body)
            model.expected_company[company_id] -= (
                math.ceil(duration / 60_000) * model.price[company_id]
            )
            counts["call_charge"] += 1
        elif roll < 0.75 and model.delivered:
            event_id = rng.choice(model.delivered)  # a redelivery / replay of a processed event
            counts["redelivery"] += 1
        elif roll < 0.82 and model.topups[:-BATCH]:
            owner, intent, amount = rng.choice(model.topups[:-BATCH])  # processed already
            total = rng.randrange(model.refunded[intent], amount + 1)
            charge = stripe_object(
                "charge",
                id=f"ch_{intent}",
                payment_intent=intent,
                amount=amount,
                amount_refunded=total,
                currency="eur",
            )
            event_id = await store_event(
                database, "stripe", stripe_event("charge.refunded", charge)
            )
            delta = max(0, total - model.refunded[intent])
            model.refunded[intent] = max(model.refunded[intent], total)
            model.expected_company[owner] -= delta
            counts["refund"] += 1
        elif roll < 0.88 and model.topups[:-BATCH]:
            owner, intent, _ = rng.choice(model.topups[:-BATCH])
            sibling = stripe_object(
                "checkout.session",
                status="complete",
                payment_status="paid",
                payment_intent=intent,
                amount_total=1,  # whatever it says, this money is already counted
                currency="eur",
                metadata={"company_id": str(owner)},
            )
            event_id = await store_event(
                database,
                "stripe",
                stripe_event("checkout.session.async_payment_succeeded", sibling),
            )
            counts["sibling_event"] += 1
        else:
            amount = rng.choice([-1, 1]) * rng.randrange(1, 5_000)
            model.expected_company[company_id] += amount
            counts["adjustment"] += 1

            reference = f"adjustment_rand_{serial}"  # a re-run must not adjust twice

            async def adjustment() -> None:
                async def work(session: AsyncSession) -> None:
                    await adjust(
                        session,
                        company_id,
                        amount,
                        reason="random",
                        actor="test",
                        reference=reference,
                    )

                await database.unit_of_work(work)

            return adjustment
        model.delivered.append(event_id)

        async def process() -> None:
            await run_handlers(database, event_id)

        return process

    retries_before = sum(
        TRANSACTIONS.labels(unit, "retry")._value.get() for unit in ("test.webhook", "unit_of_work")
    )
    done = 0
    while done < OPERATIONS:
        size = min(BATCH, OPERATIONS - done)
        batch = [await plan_one() for _ in range(size)]
        # Every batch also re-runs one of its own events at the same time (a concurrent dup).
        batch.append(batch[rng.randrange(len(batch))])
        await asyncio.gather(*(operation() for operation in batch))
        done += size

    assert min(counts.values()) > 20, counts  # every kind of operation really happened
    retries = sum(
        TRANSACTIONS.labels(unit, "retry")._value.get() for unit in ("test.webhook", "unit_of_work")
    )
    assert retries == retries_before, "a deadlock had to be retried: the lock order is broken"
    async with database.sessions() as session:
        company_rows = {c.id: c for c in (await session.execute(select(Company))).scalars()}
        accounts = {a.id: a for a in (await session.execute(select(BillingAccount))).scalars()}
    for company_id, _ in companies:
        assert company_rows[company_id].balance_cents == model.expected_company[company_id]
    reseller_total = sum(model.expected_company[cid] for cid, _ in companies[3:])
    assert accounts[reseller.id].balance_cents == reseller_total
    for account in accounts.values():
        assert account.out_of_credit == (account.balance_cents <= 0)

    result = askpro(database_url, "billing", "reconcile", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["differences"] == []
    assert report["accounts_checked"] == len(accounts) == 4
    assert report["companies_checked"] == len(companies)


async def test_reconcile_reports_a_balance_that_differs_from_its_ledger(
    database: Database, database_url: str
) -> None:
    company_id, _ = await create_billed_company(database, name="Tampered Salon")
    async with database.sessions() as session:
        await adjust(session, company_id, 1234, reason="credit", actor="test")
        await session.commit()
    clean = askpro(database_url, "billing", "reconcile")
    assert clean.returncode == 0, clean.stderr
    assert "0 differences" in clean.stdout
    async with database.sessions() as session:  # a write that bypasses the ledger
        await session.execute(text("UPDATE companies SET balance_cents = balance_cents + 1"))
        await session.commit()
    dirty = askpro(database_url, "billing", "reconcile")
    assert dirty.returncode == 1
    assert "1 differences" in dirty.stdout
    assert "Tampered Salon" in dirty.stdout
    assert "stored 1235 cents, ledger 1234" in dirty.stdout
