"""The audit log: one row per write and per failed auth, with the correlation id; written
off the request path, in batches, and never lost when the database hiccups."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
from fastapi import FastAPI, Request
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.auth.audit import AuditWriter, audit_as
from askpro.auth.scopes import Scope
from askpro.db import Database
from askpro.models import AuditLog
from tests.fixtures.auth import create_token
from tests.fixtures.factories import create_company


async def _rows(session: AsyncSession, **where: Any) -> list[AuditLog]:
    statement = select(AuditLog).filter_by(**where).order_by(AuditLog.id)
    return list((await session.scalars(statement)).all())


async def test_a_write_leaves_exactly_one_row_with_the_correlation_id(
    app: FastAPI, api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company = await create_company(session)
    token = await create_token(session, company)
    await session.commit()
    request_id = uuid.uuid4().hex
    created = await api.post(
        "/api/v1/staff",
        json={"name": "Anna"},
        headers={**token.headers, "X-Request-ID": request_id},
    )
    assert created.status_code == 201
    assert created.headers["X-Request-ID"] == request_id
    await api.get("/api/v1/staff", headers=token.headers)  # reads are not audited
    await app.state.audit_writer.flush()

    rows = await _rows(session)
    assert len(rows) == 1
    row = rows[0]
    assert row.correlation_id == request_id
    assert (row.kind, row.method, row.status) == ("write", "POST", 201)
    assert (row.token_id, row.company_id) == (token.row.id, company.id)
    assert row.path == "/api/v1/staff"
    assert row.resource_id == str(created.json()["id"])
    assert row.client_ip == "127.0.0.1"

    changed = await api.patch(
        f"/api/v1/staff/{row.resource_id}", json={"active": False}, headers=token.headers
    )
    assert changed.status_code == 200
    await app.state.audit_writer.flush()
    patch_row = (await _rows(session, method="PATCH"))[0]
    assert patch_row.route == "/api/v1/staff/{staff_id}"
    assert patch_row.resource_id == row.resource_id


async def test_a_failed_auth_leaves_exactly_one_row_with_the_correlation_id(
    app: FastAPI, api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company = await create_company(session)
    reader = await create_token(session, company, scopes=[Scope.STAFF_READ])
    await session.commit()
    bad_id, forbidden_id = uuid.uuid4().hex, uuid.uuid4().hex
    unauthorized = await api.get(
        "/api/v1/staff",
        headers={"Authorization": "Bearer askpro_nope", "X-Request-ID": bad_id},
    )
    assert unauthorized.status_code == 401
    forbidden = await api.post(
        "/api/v1/staff",
        json={"name": "x"},
        headers={**reader.headers, "X-Request-ID": forbidden_id},
    )
    assert forbidden.status_code == 403
    await app.state.audit_writer.flush()

    failed = await _rows(session, correlation_id=bad_id)
    assert [(r.kind, r.status, r.token_id) for r in failed] == [("auth_failure", 401, None)]
    denied = await _rows(session, correlation_id=forbidden_id)
    assert [(r.kind, r.status, r.token_id, r.company_id) for r in denied] == [
        ("auth_failure", 403, reader.row.id, company.id)
    ]
    assert len(await _rows(session)) == 2


async def test_concurrent_writes_leave_one_row_each(
    app: FastAPI, api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company = await create_company(session)
    token = await create_token(session, company)
    await session.commit()
    ids = [uuid.uuid4().hex for _ in range(60)]
    responses = await asyncio.gather(
        *(
            api.post(
                "/api/v1/branches",
                json={"name": f"b{i}"},
                headers={**token.headers, "X-Request-ID": request_id},
            )
            for i, request_id in enumerate(ids)
        )
    )
    assert all(response.status_code == 201 for response in responses)
    await app.state.audit_writer.flush()
    rows = await _rows(session)
    assert sorted(row.correlation_id or "" for row in rows) == sorted(ids)


async def test_requests_do_not_wait_for_the_audit_insert(
    app: FastAPI, api: httpx.AsyncClient, session: AsyncSession, database: Database
) -> None:
    company = await create_company(session)
    token = await create_token(session, company)
    await session.commit()
    async with database.sessions() as blocker:
        # Nobody can insert into audit_logs until this transaction ends.
        await blocker.execute(text("LOCK TABLE audit_logs IN ACCESS EXCLUSIVE MODE"))
        started = time.perf_counter()
        for index in range(5):
            response = await api.post(
                "/api/v1/branches", json={"name": f"b{index}"}, headers=token.headers
            )
            assert response.status_code == 201
        elapsed = time.perf_counter() - started
        await asyncio.sleep(0.3)  # the writer is now stuck on the lock
        assert app.state.audit_writer.pending == 5
        await blocker.rollback()
    assert elapsed < 2.0
    await app.state.audit_writer.flush()
    assert len(await _rows(session)) == 5


async def test_rows_survive_a_failing_database_and_are_written_once(
    session: AsyncSession, database: Database
) -> None:
    unreachable = Database("postgresql://askpro@127.0.0.1:1/nothing", pool_size=1)
    calls = 0

    def flaky() -> Database:
        nonlocal calls
        calls += 1
        return unreachable if calls <= 2 else database

    writer = AuditWriter(flaky, interval=0.02, max_backoff=0.05)
    for index in range(3):
        writer.record(_row(f"flaky-{index}"))
    await asyncio.wait_for(writer.flush(), timeout=20)
    await writer.close()
    await unreachable.dispose()
    assert calls >= 3
    rows = await _rows(session)
    flaky = sorted(row.correlation_id or "" for row in rows if row.path == "/api/v1/test")
    assert flaky == ["flaky-0", "flaky-1", "flaky-2"]


async def test_close_flushes_what_is_queued(session: AsyncSession, database: Database) -> None:
    writer = AuditWriter(lambda: database, interval=10.0, batch_size=1000)
    for index in range(250):
        writer.record(_row(f"shutdown-{index}"))
    await writer.close()  # would otherwise wait 10 s for the batch
    count = await session.scalar(
        select(func.count()).select_from(AuditLog).where(AuditLog.correlation_id.like("shutdown-%"))
    )
    assert count == 250


async def test_audit_log_endpoint_is_scoped_to_the_company(
    app: FastAPI, api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company_a = await create_company(session, name="A")
    company_b = await create_company(session, name="B")
    token_a = await create_token(session, company_a)
    token_b = await create_token(session, company_b)
    platform = await create_token(session, None)
    await session.commit()
    await api.post("/api/v1/branches", json={"name": "a"}, headers=token_a.headers)
    await api.post("/api/v1/branches", json={"name": "b"}, headers=token_b.headers)
    await api.get("/api/v1/branches", headers={"Authorization": "Bearer nope"})
    await app.state.audit_writer.flush()

    seen_a = (await api.get("/api/v1/audit-logs", headers=token_a.headers)).json()["items"]
    assert [(r["company_id"], r["kind"]) for r in seen_a] == [(company_a.id, "write")]
    everything = await api.get("/api/v1/audit-logs?kind=auth_failure", headers=platform.headers)
    assert [r["status"] for r in everything.json()["items"]] == [401]
    reader = await create_token(session, company_a, scopes=[Scope.STAFF_READ])
    await session.commit()
    assert (await api.get("/api/v1/audit-logs", headers=reader.headers)).status_code == 403


def _row(correlation_id: str) -> dict[str, Any]:
    return {
        "kind": "write",
        "token_id": None,
        "company_id": None,
        "method": "POST",
        "path": "/api/v1/test",
        "route": None,
        "resource_id": None,
        "status": 201,
        "client_ip": "127.0.0.1",
        "correlation_id": correlation_id,
    }


async def test_a_route_can_mark_its_row_as_a_replay(
    app: FastAPI, api: httpx.AsyncClient, session: AsyncSession
) -> None:
    @app.post("/api/v1/test-replays")
    async def replay(request: Request) -> dict[str, int]:
        audit_as(request, "replay")
        return {"id": 42}

    request_id = uuid.uuid4().hex
    response = await api.post("/api/v1/test-replays", headers={"X-Request-ID": request_id})
    assert response.status_code == 200
    await app.state.audit_writer.flush()
    rows = await _rows(session, correlation_id=request_id)
    assert [(r.kind, r.resource_id) for r in rows] == [("replay", "42")]
