"""Per-entity order: one event of an entity at a time, in arrival order, and what a retry
holds back (per provider, see docs/webhooks.md)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.db import Database
from askpro.models import WebhookEvent
from askpro.runtime import Runtime, set_runtime
from askpro.webhooks.registry import handles
from tests.fixtures.webhooks import (
    calcom_event,
    deliver,
    events,
    isolated_handlers,
    running_worker,
    stripe_event,
    wait_for,
    wait_for_status,
)


@pytest.fixture
async def slow_retries(runtime: Runtime) -> AsyncIterator[Runtime]:
    """A first retry 30 s away: far longer than the test waits for the later event."""
    settings = runtime.settings.model_copy(
        update={"webhook_retry_base_seconds": 30.0, "webhook_retry_jitter": 0.0}
    )
    slow = Runtime(settings=settings, database=runtime.database)
    set_runtime(slow)
    yield slow
    set_runtime(runtime)


async def _statuses(database: Database) -> dict[str, str]:
    return {event.dedup_key: event.status for event in await events(database)}


async def test_a_burst_for_one_entity_runs_one_at_a_time_in_arrival_order(
    client: httpx.AsyncClient, database: Database
) -> None:
    seen: list[str] = []
    running = 0
    overlapped = False
    with isolated_handlers():

        @handles("stripe", "invoice.paid")
        async def record(session: AsyncSession, event: WebhookEvent) -> None:
            nonlocal running, overlapped
            running += 1
            overlapped = overlapped or running > 1
            await asyncio.sleep(0.002)  # give a concurrent job the chance to overlap
            seen.append(event.dedup_key)
            running -= 1

        sent = [f"evt_burst_{index:03d}" for index in range(60)]
        for event_id in sent:  # one invoice: one entity
            assert (await deliver(client, "stripe", stripe_event(event_id))).status_code == 200
        async with running_worker(concurrency=4):
            await wait_for(lambda: _all_processed(database, len(sent)), within=60)
    assert seen == sent
    assert not overlapped


async def _all_processed(database: Database, count: int) -> bool:
    statuses = await _statuses(database)
    return list(statuses.values()).count("processed") == count


async def test_a_retrying_stripe_event_does_not_hold_back_later_events_of_its_object(
    client: httpx.AsyncClient, database: Database, slow_retries: Runtime
) -> None:
    with isolated_handlers():

        @handles("stripe", "invoice.paid")
        async def first_one_fails(session: AsyncSession, event: WebhookEvent) -> None:
            if event.dedup_key == "evt_fails_first":
                raise RuntimeError("transient failure")

        await deliver(client, "stripe", stripe_event("evt_fails_first"))
        await deliver(client, "stripe", stripe_event("evt_comes_after"))
        [failing, later] = await events(database)
        assert failing.entity_key == later.entity_key
        async with running_worker(concurrency=2):
            await wait_for_status(database, failing.id, {"failed"})
            done = await wait_for_status(database, later.id, {"processed"}, within=10)
    assert done.attempts == 1
    assert (await _statuses(database))["evt_fails_first"] == "failed"  # waiting for its retry


async def test_a_retrying_calcom_event_holds_back_later_events_of_its_booking(
    client: httpx.AsyncClient, database: Database, slow_retries: Runtime
) -> None:
    with isolated_handlers():

        @handles("calcom", "BOOKING_CREATED", "BOOKING_CANCELLED")
        async def created_fails(session: AsyncSession, event: WebhookEvent) -> None:
            if event.event_type == "BOOKING_CREATED":
                raise RuntimeError("transient failure")

        await deliver(client, "calcom", calcom_event("booking-1", "BOOKING_CREATED"))
        await deliver(client, "calcom", calcom_event("booking-1", "BOOKING_CANCELLED"))
        [created, cancelled] = await events(database)
        assert created.entity_key == cancelled.entity_key
        async with running_worker(concurrency=2):
            await wait_for_status(database, created.id, {"failed"})
            await asyncio.sleep(2)  # many polls and wake-ups: the cancellation must still wait
            statuses = await _statuses(database)
    assert sorted(statuses.values()) == ["failed", "received"]
