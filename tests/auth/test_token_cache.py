"""The token cache: repeated requests skip the token look-up, and a revocation through any
process reaches every process's cache at once (LISTEN/NOTIFY), not after the cache's TTL."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.app import create_app
from askpro.auth.scopes import Scope
from askpro.auth.token_cache import TokenCache
from askpro.db import Database
from askpro.kit.time import utc_now
from askpro.models import ApiToken
from askpro.runtime import Runtime
from tests.fixtures.auth import create_token
from tests.fixtures.factories import create_company
from tests.fixtures.webhooks import wait_for


@contextlib.asynccontextmanager
async def process(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """One app with its own cache listening, as one server process has."""
    app: FastAPI = create_app(runtime=runtime)
    cache: TokenCache = app.state.token_cache
    cache.start(runtime.database.url)
    try:
        await wait_for(lambda: _is_active(cache), within=10)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://askpro.test") as client:
            yield client
    finally:
        await cache.stop()
        await app.state.audit_writer.close()


async def _is_active(cache: TokenCache) -> bool:
    return cache.active


async def _revoke_behind_the_caches_back(database: Database, token_id: int) -> None:
    """A revocation that sends no notification: only the cache can still let it through."""
    async with database.sessions() as session:
        await session.execute(
            update(ApiToken).where(ApiToken.id == token_id).values(revoked_at=utc_now())
        )
        await session.commit()


async def test_a_cached_token_skips_the_look_up(
    runtime: Runtime, database: Database, session: AsyncSession
) -> None:
    company = await create_company(session)
    reader = await create_token(session, company, scopes=[Scope.STAFF_READ])
    await session.commit()
    async with process(runtime) as client:
        assert (await client.get("/api/v1/staff", headers=reader.headers)).status_code == 200
        await _revoke_behind_the_caches_back(database, reader.row.id)
        # Served from the cache: the row says revoked, the cache was never told.
        assert (await client.get("/api/v1/staff", headers=reader.headers)).status_code == 200


async def test_without_its_listener_the_cache_serves_nothing(
    api: httpx.AsyncClient, database: Database, session: AsyncSession
) -> None:
    company = await create_company(session)
    reader = await create_token(session, company, scopes=[Scope.STAFF_READ])
    await session.commit()
    assert (await api.get("/api/v1/staff", headers=reader.headers)).status_code == 200
    await _revoke_behind_the_caches_back(database, reader.row.id)
    assert (await api.get("/api/v1/staff", headers=reader.headers)).status_code == 401


@pytest.mark.parametrize("revoked_through", ["same process", "other process"])
async def test_a_revocation_reaches_every_processs_cache_at_once(
    runtime: Runtime, session: AsyncSession, revoked_through: str
) -> None:
    company = await create_company(session)
    manager = await create_token(session, company, scopes=[Scope.TOKENS_WRITE])
    reader = await create_token(session, company, scopes=[Scope.STAFF_READ])
    await session.commit()
    async with process(runtime) as first, process(runtime) as second:
        for client in (first, second):  # both caches hold the reader now
            assert (await client.get("/api/v1/staff", headers=reader.headers)).status_code == 200
        revoker = first if revoked_through == "same process" else second
        revoked = await revoker.delete(f"/api/v1/tokens/{reader.row.id}", headers=manager.headers)
        assert revoked.status_code == 204

        async def refused_by_first() -> bool:
            answer = await first.get("/api/v1/staff", headers=reader.headers)
            return answer.status_code == 401

        # Well inside the cache's 10 s TTL: the notification, not expiry, did it.
        await wait_for(refused_by_first, within=2)
        assert (await second.get("/api/v1/staff", headers=reader.headers)).status_code == 401


async def test_the_hot_list_read_is_served_from_the_cache_and_refuses_a_revoked_token_at_once(
    runtime: Runtime, database: Database, session: AsyncSession
) -> None:
    """``GET /api/v1/appointments`` skips FastAPI (askpro.api.hot) but not the token cache
    or its invalidation: one authorisation function serves both paths."""
    company = await create_company(session)
    manager = await create_token(session, company, scopes=[Scope.TOKENS_WRITE])
    reader = await create_token(session, company, scopes=[Scope.APPOINTMENTS_READ])
    stale = await create_token(session, company, scopes=[Scope.APPOINTMENTS_READ])
    await session.commit()
    hot = "/api/v1/appointments"
    async with process(runtime) as client:
        for token in (reader, stale):
            assert (await client.get(hot, headers=token.headers)).status_code == 200
        await _revoke_behind_the_caches_back(database, stale.row.id)
        # The cache answered: the row says revoked, the cache was never told.
        assert (await client.get(hot, headers=stale.headers)).status_code == 200

        revoked = await client.delete(f"/api/v1/tokens/{reader.row.id}", headers=manager.headers)
        assert revoked.status_code == 204

        async def refused() -> bool:
            return (await client.get(hot, headers=reader.headers)).status_code == 401

        await wait_for(refused, within=2)  # the notification, well inside the 10 s TTL
