"""Processing: retries with backoff, dead events, replay, per-entity ordering, sweeper, retention."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import generate_latest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.config import Settings
from askpro.db import Database
from askpro.models import Call, WebhookEvent
from askpro.observability import current_correlation_id
from askpro.runtime import Runtime, set_runtime
from askpro.webhooks import service
from askpro.webhooks.registry import handles
from askpro.webhooks.tasks import prune_bodies, retry_delay, sweep_received
from tests.fixtures.webhooks import (
    deliver,
    events,
    isolated_handlers,
    job_count,
    retell_event,
    running_worker,
    stripe_event,
    wait_for_status,
)


@pytest.fixture
async def fast_retries(runtime: Runtime) -> AsyncIterator[Runtime]:
    """The same runtime with a retry schedule of milliseconds (8 attempts, as in production)."""
    settings = runtime.settings.model_copy(
        update={"webhook_retry_base_seconds": 0.01, "webhook_retry_factor": 1.5}
    )
    fast = Runtime(settings=settings, database=runtime.database)
    set_runtime(fast)
    yield fast
    set_runtime(runtime)


def test_the_default_schedule_is_8_attempts_over_about_12_hours() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.webhook_max_attempts == 8
    nominal = settings.model_copy(update={"webhook_retry_jitter": 0.0})
    gaps = [retry_delay(attempt, nominal) for attempt in range(1, 8)]
    assert gaps[0] == 40
    assert gaps == sorted(gaps)
    assert 11 * 3600 < sum(gaps) < 13 * 3600
    jittered = [retry_delay(3, settings) for _ in range(200)]
    assert min(jittered) >= 360 * 0.8
    assert max(jittered) <= 360 * 1.2
    assert len(set(jittered)) > 100  # really random


async def test_a_handler_failing_twice_then_succeeding_ends_processed_after_3_attempts(
    client: httpx.AsyncClient, database: Database, fast_retries: Runtime
) -> None:
    calls = 0
    correlation_ids = set()
    with isolated_handlers():

        @handles("stripe", "invoice.paid")
        async def flaky(session: AsyncSession, event: WebhookEvent) -> None:
            nonlocal calls
            calls += 1
            correlation_ids.add(current_correlation_id())  # what every job log line carries
            if calls <= 2:
                raise RuntimeError(f"transient failure {calls}")

        await deliver(client, "stripe", stripe_event())
        [event] = await events(database)
        async with running_worker():
            done = await wait_for_status(database, event.id, {"processed", "dead"})
    assert (done.status, done.attempts, calls) == ("processed", 3, 3)
    assert done.last_error is None
    assert correlation_ids == {done.correlation_id}
    assert done.correlation_id


async def test_an_always_failing_handler_ends_dead_and_a_replay_after_the_fix_processes_it(
    client: httpx.AsyncClient, database: Database, fast_retries: Runtime
) -> None:
    fixed = False
    runs = 0
    with isolated_handlers():

        @handles("stripe", "invoice.paid")
        async def broken_until_fixed(session: AsyncSession, event: WebhookEvent) -> None:
            nonlocal runs
            runs += 1
            if not fixed:
                raise ValueError("bug in the handler")

        await deliver(client, "stripe", stripe_event())
        [event] = await events(database)
        async with running_worker():
            dead = await wait_for_status(database, event.id, {"dead"})
            assert dead.attempts == fast_retries.settings.webhook_max_attempts == 8
            assert dead.last_error == "ValueError: bug in the handler"
            await asyncio.sleep(0.3)
            assert runs == 8  # nothing retries a dead event on its own

            fixed = True
            async with database.sessions() as session:
                result = await service.replay(session, [event.id], actor="ops@example.com")
                await session.commit()
            assert result.replayed == [event.id]
            done = await wait_for_status(database, event.id, {"processed"})
    assert done.attempts == 1
    assert done.replayed_by == "ops@example.com"
    assert done.replayed_at is not None


async def test_replaying_by_status_skips_events_still_in_flight(
    client: httpx.AsyncClient, database: Database, runtime: Runtime
) -> None:
    await deliver(client, "stripe", stripe_event(event_id="evt_a"))
    await deliver(client, "stripe", stripe_event(event_id="evt_b"))
    first, second = await events(database)
    async with database.sessions() as session:
        await session.execute(
            update(WebhookEvent).where(WebhookEvent.id == first.id).values(status="dead")
        )
        result = await service.replay_status(session, "dead", actor="cli")
        await session.commit()
        skipped = await service.replay(session, [second.id, 999], actor="cli")
    assert result.replayed == [first.id]
    assert skipped.replayed == []
    assert skipped.skipped == [second.id, 999]
    # The original job is still waiting: replay pulled it forward instead of adding one.
    assert await job_count(database) == 2


async def _upsert_call(session: AsyncSession, event: WebhookEvent, status: str) -> None:
    """A minimal calls handler: an older event never overwrites newer state."""
    call = event.payload()["call"]
    stamp = int(event.occurred_at.timestamp() * 1000) if event.occurred_at else 0
    await session.execute(
        text(
            """
            INSERT INTO calls (call_id, status, started_at, ended_at, last_event_at_ms)
            VALUES (:call_id, :status, :started_at, :ended_at, :stamp)
            ON CONFLICT (call_id) DO UPDATE SET
              status = CASE WHEN EXCLUDED.last_event_at_ms >= calls.last_event_at_ms
                            THEN EXCLUDED.status ELSE calls.status END,
              started_at = COALESCE(calls.started_at, EXCLUDED.started_at),
              ended_at = COALESCE(EXCLUDED.ended_at, calls.ended_at),
              last_event_at_ms = GREATEST(calls.last_event_at_ms, EXCLUDED.last_event_at_ms)
            """
        ),
        {
            "call_id": call["call_id"],
            "status": status,
            "started_at": dt.datetime.fromtimestamp(call["start_timestamp"] / 1000, dt.UTC),
            "ended_at": (
                dt.datetime.fromtimestamp(call["end_timestamp"] / 1000, dt.UTC)
                if status == "ended"
                else None
            ),
            "stamp": stamp,
        },
    )


async def test_call_ended_before_call_started_leaves_the_call_ended_and_never_overlaps(
    client: httpx.AsyncClient, database: Database, runtime: Runtime
) -> None:
    running: list[tuple[str, float, float]] = []
    with isolated_handlers():

        @handles("retell", "call_started", "call_ended")
        async def calls_handler(session: AsyncSession, event: WebhookEvent) -> None:
            begun = time.perf_counter()
            await asyncio.sleep(0.2)  # long enough that unlocked jobs would overlap
            status = "ended" if event.event_type == "call_ended" else "ongoing"
            await _upsert_call(session, event, status)
            running.append((event.event_type, begun, time.perf_counter()))

        for event_type in ("call_ended", "call_started"):
            response = await deliver(client, "retell", retell_event(event_type, call_id="c-1"))
            assert response.status_code == 204
        async with running_worker(concurrency=4):
            for event in await events(database):
                await wait_for_status(database, event.id, {"processed"})
    async with database.sessions() as session:
        call = (await session.execute(select(Call).where(Call.call_id == "c-1"))).scalar_one()
    assert call.status == "ended"
    assert call.ended_at is not None
    assert call.started_at is not None
    (first, _first_start, first_end), (second, second_start, _) = running
    assert (first, second) == ("call_ended", "call_started")  # delivery order, one at a time
    assert second_start >= first_end


async def test_the_sweeper_requeues_rows_left_in_received_once(
    database: Database, runtime: Runtime
) -> None:
    async with database.sessions() as session:
        for key, age in (("old", 300), ("young", 10)):
            session.add(
                WebhookEvent(
                    provider="stripe",
                    event_type="invoice.paid",
                    dedup_key=f"evt_{key}",
                    body=stripe_event(event_id=f"evt_{key}"),
                    received_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=age),
                )
            )
        await session.commit()
    assert await sweep_received(timestamp=0) == 1
    assert await sweep_received(timestamp=0) == 0  # its job is already waiting
    assert 'askpro_webhook_events{status="received"} 2.0' in generate_latest().decode()
    assert await job_count(database) == 1
    old = next(e for e in await events(database) if e.dedup_key == "evt_old")
    async with running_worker():
        await wait_for_status(database, old.id, {"processed"})


async def test_retention_prunes_old_settled_bodies_and_keeps_the_rows(
    database: Database, runtime: Runtime
) -> None:
    now = dt.datetime.now(dt.UTC)
    async with database.sessions() as session:
        for key, days, status in (
            ("old-done", 31, "processed"),
            ("old-failed", 31, "failed"),
            ("recent", 2, "processed"),
        ):
            session.add(
                WebhookEvent(
                    provider="stripe",
                    event_type="invoice.paid",
                    dedup_key=key,
                    status=status,
                    body=b"{}",
                    received_at=now - dt.timedelta(days=days),
                )
            )
        await session.commit()
    assert await prune_bodies(timestamp=0) == 1
    by_key = {e.dedup_key: e for e in await events(database)}
    assert by_key["old-done"].body is None
    assert by_key["old-done"].body_pruned_at is not None
    assert by_key["old-failed"].body == b"{}"  # still needed for its retries
    assert by_key["recent"].body == b"{}"
