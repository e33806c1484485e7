"""customer.subscription.*: the newest state wins, in any order and concurrently."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from askpro.billing.service import is_out_of_credit
from askpro.db import Database
from tests.fixtures.billing import (
    account_of,
    create_billed_company,
    deliver,
    run_handlers,
    store_event,
    stripe_event,
)
from tests.integrations.stripe.scenarios import (
    SUB,
    stored_subscription,
    subscription,
)


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


async def test_same_second_events_resolve_by_lifecycle_and_canceled_stays_canceled(
    database: Database,
) -> None:
    company_id, _ = await create_billed_company(database)
    past_due = stripe_event(
        "customer.subscription.updated", subscription(company_id, "past_due"), created=500
    )
    active = stripe_event(
        "customer.subscription.updated", subscription(company_id, "active"), created=500
    )
    await deliver(database, "stripe", past_due)
    await deliver(database, "stripe", active)  # same second, earlier lifecycle stage
    assert (await stored_subscription(database)).status == "past_due"

    deleted = stripe_event(
        "customer.subscription.deleted", subscription(company_id, "canceled"), created=600
    )
    late_update = stripe_event(
        "customer.subscription.updated", subscription(company_id, "active"), created=700
    )
    await deliver(database, "stripe", deleted)
    await deliver(database, "stripe", late_update)
    assert (await stored_subscription(database)).status == "canceled"
