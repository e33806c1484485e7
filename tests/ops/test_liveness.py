"""Worker liveness: /health/ready and the alarm see live workers and waiting events."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.db import Database
from askpro.ops import liveness
from askpro.runtime import Runtime
from tests.fixtures.webhooks import create_webhook_event


async def _waiting_event(database: Database, age_seconds: float) -> None:
    async def work(session: AsyncSession) -> None:
        received_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=age_seconds)
        await create_webhook_event(session, None, status="received", received_at=received_at)

    await database.unit_of_work(work)


async def _worker_heartbeat(database: Database, age_seconds: float) -> None:
    async with database.sessions() as session:
        await session.execute(
            text(
                "INSERT INTO procrastinate_workers (last_heartbeat) "
                "VALUES (now() - make_interval(secs => :age))"
            ),
            {"age": age_seconds},
        )
        await session.commit()


async def test_ready_reports_no_live_worker_and_the_oldest_waiting_event(
    client: httpx.AsyncClient, database: Database
) -> None:
    await _waiting_event(database, age_seconds=300)
    await _worker_heartbeat(database, age_seconds=120)  # a dead worker's leftover row

    response = await client.get("/health/ready")

    assert response.status_code == 200  # the web process still accepts webhooks
    body = response.json()
    workers = body["checks"]["workers"]
    assert workers["workers_alive"] == 0
    assert workers["received_events"] == 1
    assert workers["oldest_received_age_seconds"] >= 299
    assert workers["unattended"] is True
    assert body["status"] == "degraded"


async def test_a_live_worker_means_waiting_events_are_not_an_alarm(
    client: httpx.AsyncClient, database: Database
) -> None:
    await _waiting_event(database, age_seconds=300)
    await _worker_heartbeat(database, age_seconds=1)

    workers = (await client.get("/health/ready")).json()["checks"]["workers"]

    assert workers["workers_alive"] == 1
    assert workers["unattended"] is False


@pytest.mark.parametrize(("age", "alarm"), [(30, False), (90, True)])
async def test_the_alarm_fires_only_past_the_threshold_with_no_live_worker(
    runtime: Runtime, database: Database, age: float, alarm: bool
) -> None:
    await _waiting_event(database, age_seconds=age)
    before = liveness.UNATTENDED_ALARMS._value.get()

    with structlog.testing.capture_logs() as logs:
        measured = await liveness.check_once(runtime)  # threshold: 60 s by default

    assert measured.unattended is alarm
    assert liveness.UNATTENDED._value.get() == (1 if alarm else 0)
    assert liveness.UNATTENDED_ALARMS._value.get() - before == (1 if alarm else 0)
    assert [line["event"] for line in logs if line["event"] == "queue.unattended"] == (
        ["queue.unattended"] if alarm else []
    )
