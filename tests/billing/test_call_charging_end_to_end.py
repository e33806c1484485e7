"""Retell call_ended POSTed (signed) three times at once to /webhooks/retell and processed by a
real worker → one call_charge."""

from __future__ import annotations

import asyncio
import json

import httpx
from sqlalchemy import select

from askpro.db import Database
from askpro.models import WebhookEvent
from tests.fixtures.billing import account_of, create_billed_company, ledger_rows, retell_call_ended
from tests.fixtures.webhooks import deliver, running_worker, wait_for_status


async def test_call_ended_delivered_three_times_concurrently_charges_once(
    client: httpx.AsyncClient, database: Database
) -> None:
    company_id, number = await create_billed_company(database, price_per_minute_cents=20)
    body = json.dumps(retell_call_ended("call_e2e_3x", number, duration_ms=150_000)).encode()
    async with running_worker(concurrency=3):
        responses = await asyncio.gather(*(deliver(client, "retell", body) for _ in range(3)))
        assert [response.status_code for response in responses] == [204, 204, 204]
        async with database.sessions() as session:
            ids = list(await session.scalars(select(WebhookEvent.id)))
        for event_id in ids:
            processed = await wait_for_status(database, event_id, {"processed", "failed"})
            assert processed.status == "processed", processed.last_error
    [charge] = await ledger_rows(database)
    assert (charge.kind, charge.external_reference, charge.amount_cents) == (
        "call_charge",
        "call_e2e_3x",
        -60,
    )
    assert (await account_of(database, company_id)).balance_cents == -60
