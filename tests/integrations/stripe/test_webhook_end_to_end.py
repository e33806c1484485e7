"""Signed Stripe events POSTed to /webhooks/stripe, processed by a real worker, end in the
right billing rows; duplicates, redeliveries and sibling events credit money once."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
from sqlalchemy import func, select

from askpro.db import Database
from askpro.models import Company, Invoice, Payment, Subscription, WebhookEvent
from askpro.webhooks import service as inbox
from askpro.webhooks.signatures import sign_stripe
from tests.fixtures.billing import (
    account_of,
    create_billed_company,
    ledger_rows,
    ledger_sum,
    stripe_event,
    stripe_object,
)
from tests.fixtures.webhooks import STRIPE_SECRET, running_worker, wait_for_status


async def post(
    client: httpx.AsyncClient, event: dict[str, Any], *, timestamp: int | None = None
) -> httpx.Response:
    body = json.dumps(event).encode()
    headers = {
        "content-type": "application/json",
        "Stripe-Signature": sign_stripe(body, STRIPE_SECRET, timestamp),
    }
    return await client.post("/webhooks/stripe", content=body, headers=headers)


async def inbox_id(database: Database, evt_id: str) -> int:
    async with database.sessions() as session:
        found = await session.scalar(
            select(WebhookEvent.id).where(
                WebhookEvent.provider == "stripe", WebhookEvent.dedup_key == evt_id
            )
        )
    assert found is not None, f"{evt_id} not in the inbox"
    return found


async def post_and_process(
    client: httpx.AsyncClient, database: Database, event: dict[str, Any], status: str = "processed"
) -> WebhookEvent:
    response = await post(client, event)
    assert response.status_code == 200, response.text
    row = await wait_for_status(
        database, await inbox_id(database, event["id"]), {status, "failed", "dead"}
    )
    assert row.status == status, f"{event['type']}: {row.status} {row.last_error}"
    return row


async def test_every_handled_event_type_posted_signed_leads_to_the_right_rows(
    client: httpx.AsyncClient, database: Database
) -> None:
    company_id, _ = await create_billed_company(database, price_per_minute_cents=10)
    meta = {"company_id": str(company_id), "included_minutes": "30"}
    checkout = stripe_object(
        "checkout.session",
        status="complete",
        payment_status="paid",
        amount_total=5000,
        currency="eur",
        customer="cus_e2e",
        metadata={"company_id": str(company_id)},
    )
    topup_pi = checkout["payment_intent"]
    intent = stripe_object(
        "payment_intent",
        id="pi_direct_topup",
        status="succeeded",
        amount=1500,
        amount_received=1500,
        currency="eur",
        metadata={"company_id": str(company_id)},
    )
    subscription = stripe_object(
        "subscription",
        status="active",
        customer="cus_e2e",
        metadata=meta,
        cancel_at_period_end=False,
    )
    invoice = stripe_object(
        "invoice",
        status="paid",
        amount_paid=4900,
        currency="eur",
        customer="cus_e2e",
        parent={"subscription_details": {"subscription": subscription["id"]}},
    )
    refund = stripe_object(
        "charge", payment_intent=topup_pi, amount=5000, amount_refunded=2000, currency="eur"
    )
    failed_charge = stripe_object(
        "charge",
        id="ch_failed_e2e",
        payment_intent="pi_failed_e2e",
        status="failed",
        failure_code="card_declined",
        currency="eur",
        customer="cus_e2e",
    )
    failed_invoice = stripe_object(
        "invoice",
        id="in_failed_e2e",
        status="open",
        currency="eur",
        customer="cus_e2e",
        parent=None,
        subscription=None,
        attempt_count=1,
    )
    canceled = dict(subscription, status="canceled")
    async_checkout = dict(
        checkout, id="cs_async_e2e", payment_intent="pi_async_e2e", payment_status="unpaid"
    )
    sequence = [
        stripe_event("checkout.session.completed", checkout, created=100),
        stripe_event("payment_intent.succeeded", intent, created=101),
        stripe_event("customer.subscription.created", subscription, created=102),
        stripe_event("invoice.payment_succeeded", invoice, created=103),
        stripe_event("invoice.paid", invoice, created=104),
        stripe_event("charge.refunded", refund, created=105),
        stripe_event("charge.failed", failed_charge, created=106),
        stripe_event("invoice.payment_failed", failed_invoice, created=107),
        stripe_event("checkout.session.completed", async_checkout, created=108),
        stripe_event("checkout.session.async_payment_failed", async_checkout, created=109),
        stripe_event(
            "customer.subscription.updated",
            dict(subscription, cancel_at_period_end=True),
            created=110,
        ),
        stripe_event("customer.subscription.deleted", canceled, created=111),
    ]
    async with running_worker():
        for event in sequence:
            await post_and_process(client, database, event)

    kinds = [(entry.kind, entry.amount_cents) for entry in await ledger_rows(database)]
    assert kinds == [
        ("topup", 5000),
        ("topup", 1500),
        ("subscription_credit", 300),
        ("refund", -2000),
    ]
    account = await account_of(database, company_id)
    assert account.balance_cents == 4800 == await ledger_sum(database, account.id)
    assert account.stripe_customer_id == "cus_e2e"
    assert account.payment_failed_at is not None
    async with database.sessions() as session:
        payments = {p.reference: p for p in (await session.execute(select(Payment))).scalars()}
        invoices = {
            i.stripe_invoice_id: i for i in (await session.execute(select(Invoice))).scalars()
        }
        [sub] = (await session.execute(select(Subscription))).scalars().all()
    assert payments[topup_pi].status == "partially_refunded"
    assert payments[topup_pi].amount_refunded_cents == 2000
    assert payments["pi_direct_topup"].status == "succeeded"
    assert payments["pi_failed_e2e"].status == "failed"
    assert payments["pi_async_e2e"].status == "failed"
    assert invoices[invoice["id"]].status == "paid"
    assert invoices["in_failed_e2e"].status == "open"
    assert (sub.status, sub.cancel_at_period_end, sub.state_event_created) == (
        "canceled",
        False,  # the deleted event's object, the newest state
        111,
    )


async def test_ten_concurrent_deliveries_a_redelivery_and_the_async_sibling_top_up_once(
    client: httpx.AsyncClient, database: Database
) -> None:
    company_id, _ = await create_billed_company(database)
    checkout = stripe_object(
        "checkout.session",
        status="complete",
        payment_status="paid",
        amount_total=3000,
        currency="eur",
        metadata={"company_id": str(company_id)},
    )
    completed = stripe_event("checkout.session.completed", checkout, event_id="evt_e2e_once")
    sibling = stripe_event(
        "checkout.session.async_payment_succeeded", checkout, event_id="evt_e2e_sibling"
    )
    now = int(time.time())
    async with running_worker(concurrency=4):
        responses = await asyncio.gather(
            *(post(client, completed, timestamp=now - 60) for _ in range(10))
        )
        assert all(response.status_code == 200 for response in responses)
        statuses = sorted(response.json()["status"] for response in responses)
        assert statuses.count("accepted") == 1
        # Stripe's redelivery (a day later in production): same evt id, a new signature time.
        redelivered = await post(client, completed, timestamp=now)
        assert redelivered.json()["status"] == "duplicate"
        assert (await post(client, sibling)).json()["status"] == "accepted"
        for evt_id in ("evt_e2e_once", "evt_e2e_sibling"):
            row = await wait_for_status(database, await inbox_id(database, evt_id), {"processed"})
            assert row.status == "processed"

    assert [entry.amount_cents for entry in await ledger_rows(database, kind="topup")] == [3000]
    account = await account_of(database, company_id)
    assert account.balance_cents == 3000 == await ledger_sum(database, account.id)


async def test_unknown_company_fails_is_retried_and_a_replay_succeeds_after_it_exists(
    client: httpx.AsyncClient, database: Database
) -> None:
    checkout = stripe_object(
        "checkout.session",
        status="complete",
        payment_status="paid",
        amount_total=800,
        currency="eur",
        metadata={"company_id": "31337"},
    )
    event = stripe_event("checkout.session.completed", checkout)
    async with running_worker():
        failed = await post_and_process(client, database, event, status="failed")
        assert "company 31337" in (failed.last_error or "")
        assert "does not exist" in (failed.last_error or "")
        async with database.sessions() as session:
            session.add(Company(id=31337, name="Created after the payment"))
            await session.commit()
        async with database.sessions() as session:
            result = await inbox.replay(session, [failed.id], actor="test")
            await session.commit()
        assert result.replayed == [failed.id]
        done = await wait_for_status(database, failed.id, {"processed"})
    assert done.status == "processed"
    assert [entry.amount_cents for entry in await ledger_rows(database)] == [800]
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Payment)) == 1
