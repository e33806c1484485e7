"""20 deliveries of one event at once, over real sockets and separate connections."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.app import create_app
from askpro.db import Database
from askpro.models import WebhookEvent
from askpro.runtime import Runtime
from askpro.webhooks.registry import handles
from tests.fixtures.webhooks import (
    events,
    isolated_handlers,
    job_count,
    running_worker,
    signature_headers,
    stripe_event,
    uvicorn_in_thread,
    wait_for_status,
)


async def test_twenty_concurrent_deliveries_make_one_row_one_job_one_handler_run(
    runtime: Runtime, database: Database, database_url: str
) -> None:
    body = stripe_event(event_id="evt_concurrent")
    server_database = Database(database_url, pool_size=20)  # used only by the server's loop
    app = create_app(runtime=Runtime(settings=runtime.settings, database=server_database))
    runs = 0
    with isolated_handlers(), uvicorn_in_thread(app, server_database) as base_url:

        @handles("stripe", "invoice.paid")
        async def count_runs(session: AsyncSession, event: WebhookEvent) -> None:
            nonlocal runs
            runs += 1

        limits = httpx.Limits(max_connections=20)
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
            # Each request is signed separately, as a provider's redeliveries would be.
            requests = [
                client.post(
                    "/webhooks/stripe",
                    content=body,
                    headers={
                        "content-type": "application/json",
                        **signature_headers("stripe", body),
                    },
                )
                for _ in range(20)
            ]
            responses = await asyncio.gather(*requests)
        statuses = [response.status_code for response in responses]
        assert statuses == [200] * 20
        outcomes = sorted(response.json()["status"] for response in responses)
        assert outcomes == ["accepted"] + ["duplicate"] * 19
        assert len({response.json()["event_id"] for response in responses}) == 1
        [event] = await events(database)
        assert await job_count(database) == 1
        async with running_worker(concurrency=4):
            await wait_for_status(database, event.id, {"processed"})
            await asyncio.sleep(0.3)  # a second job, if there were one, would run now
    assert runs == 1
    assert await job_count(database) == 1
