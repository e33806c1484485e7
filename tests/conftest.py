"""Shared fixtures: a real PostgreSQL database per xdist worker, the queue, the app."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from askpro import worker
from askpro.app import create_app
from askpro.config import Settings, load_settings
from askpro.db import Database
from askpro.runtime import Runtime, set_runtime
from tests.fixtures.database import (
    TRUNCATE_ALL,
    create_test_database,
    drop_test_database,
    ensure_template,
    server_url,
)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    server = server_url()
    ensure_template(server)
    name = f"askpro_test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    url = create_test_database(server, name)
    yield url
    drop_test_database(server, name)


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return load_settings(
        database_url=database_url,
        redis_url=None,
        secret_key="test-secret-key",
        retell_api_key="test-retell-key",
        calcom_webhook_secret="test-calcom-secret",
        stripe_webhook_secret="whsec_test_secret",
        log_json=False,
        _env_file=None,
    )


@pytest.fixture(scope="session")
async def session_database(database_url: str) -> AsyncIterator[Database]:
    # Up to 20 connections, kept for the session (2 * pool_size): two xdist workers stay
    # far below the server's max_connections with the tests' own engines beside them.
    database = Database(database_url, pool_size=10)
    yield database
    await database.dispose()


@pytest.fixture
async def database(session_database: Database) -> AsyncIterator[Database]:
    """The test database; every table is emptied after the test."""
    yield session_database
    async with session_database.sessions() as session:
        await session.execute(text(TRUNCATE_ALL))
        await session.commit()


@pytest.fixture
async def session(database: Database) -> AsyncIterator[AsyncSession]:
    async with database.sessions() as session:
        yield session


@pytest.fixture(scope="session")
async def queue(database_url: str) -> AsyncIterator[None]:
    pool = await worker.open_queue(database_url, max_size=5)
    yield
    await worker.close_queue(pool)


@pytest.fixture
async def runtime(settings: Settings, database: Database, queue: None) -> AsyncIterator[Runtime]:
    current = Runtime(settings=settings, database=database)
    set_runtime(current)
    yield current
    set_runtime(None)


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime=runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://askpro.test") as client:
        yield client
    await app.state.audit_writer.close()  # no audit rows may land in the next test


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that open ~60 connections run alone (``make test`` runs them after the rest),
    so two parallel workers never exceed the server's ``max_connections``."""
    for item in items:
        if "wide_database" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.serial)
