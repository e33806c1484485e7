"""Pooled connections are not pinged on checkout: one the server killed is met by a request.

The store then runs once more on a fresh connection, and a 2xx still means the event and
its job are committed; when the second connection dies too, the answer is 503 and nothing
was acknowledged that is not stored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import text

from askpro.app import create_app
from askpro.config import Settings
from askpro.db import Database, DriverConnection
from askpro.observability import TRANSACTIONS
from askpro.runtime import Runtime, set_runtime
from askpro.webhooks import repository
from tests.fixtures.webhooks import deliver, events, job_count, stripe_event


@pytest.fixture
async def small_pool(
    settings: Settings, database: Database, database_url: str, queue: None
) -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:
    """An app whose pool holds one connection, so the next request reuses the killed one."""
    own = Database(database_url, pool_size=1)
    runtime = Runtime(settings=settings, database=own)
    set_runtime(runtime)
    app = create_app(runtime=runtime)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://askpro.test") as client:
            yield client, own
    finally:
        await app.state.audit_writer.close()
        await own.dispose()
        set_runtime(None)


def _terminate(database_url: str, pid: int) -> None:
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))


async def _pooled_pid(database: Database) -> int:
    async with database.engine.connect() as connection:
        pid: int = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    return pid


def _dead_connection_retries() -> float:
    return TRANSACTIONS.labels("webhooks.ingest", "dead_connection_retry")._value.get()


async def test_a_killed_pooled_connection_is_replaced_and_the_event_stored_once(
    small_pool: tuple[httpx.AsyncClient, Database], database: Database, database_url: str
) -> None:
    client, own = small_pool
    first = await deliver(client, "stripe", stripe_event("evt_before_kill"))
    assert first.status_code == 200
    _terminate(database_url, await _pooled_pid(own))
    retries = _dead_connection_retries()

    response = await deliver(client, "stripe", stripe_event("evt_after_kill"))

    assert response.status_code == 200
    assert response.json()["status"] == "accepted"
    assert _dead_connection_retries() == retries + 1
    stored = await events(database)
    assert [event.dedup_key for event in stored] == ["evt_before_kill", "evt_after_kill"]
    assert await job_count(database) == 2


async def test_when_the_fresh_connection_dies_too_the_answer_is_503_and_nothing_is_stored(
    small_pool: tuple[httpx.AsyncClient, Database],
    database: Database,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, _ = small_pool
    original = repository.insert_and_enqueue
    attempts = 0

    async def killed_before_it_runs(
        connection: DriverConnection, delivery: repository.Delivery, **values: Any
    ) -> int | None:
        """The server kills the backend of every attempt just before the insert reaches it."""
        nonlocal attempts
        attempts += 1
        _terminate(database_url, connection.info.backend_pid)
        return await original(connection, delivery, **values)

    monkeypatch.setattr(repository, "insert_and_enqueue", killed_before_it_runs)

    response = await deliver(client, "stripe", stripe_event("evt_never_stored"))

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert attempts == 2  # the first attempt and exactly one retry
    assert await events(database) == []
    assert await job_count(database) == 0
