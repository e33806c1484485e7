"""The hot path of ``GET /api/v1/appointments`` answers exactly what the FastAPI route does.

Every request goes to two apps over the same database: the app as served (the hot path,
``askpro.api.hot``) and one built without hot reads (the FastAPI route with its
dependencies and middleware). Status, headers and body must be the same bytes; only
``X-Request-ID`` is sent by the client so both echo it, and the wall clock is frozen so
``RateLimit-Reset`` cannot differ by a second boundary.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from askpro import api as api_package
from askpro.api.hot import HotRead
from askpro.app import create_app
from askpro.auth.scopes import Scope
from askpro.booking.schemas import AppointmentOut
from askpro.db import Database, DeadConnection
from askpro.kit.pagination import KeysetQuery, Page
from askpro.models import Appointment, AuditLog, Company
from askpro.runtime import Runtime
from tests.fixtures import factories
from tests.fixtures.auth import IssuedTestToken, create_token

LIST = "/api/v1/appointments"
START = dt.datetime(2030, 1, 7, 8, 0, tzinfo=dt.UTC)


@dataclass
class Twin:
    hot: httpx.AsyncClient
    plain: httpx.AsyncClient
    hot_calls: list[str]

    async def same(self, url: str, headers: dict[str, str] | None = None) -> httpx.Response:
        """GET ``url`` from both apps; assert the answers are byte-identical."""
        request_id = str(uuid.uuid4())
        sent = {**(headers or {}), "X-Request-ID": request_id}
        calls = len(self.hot_calls)
        hot = await self.hot.get(url, headers=sent)
        assert len(self.hot_calls) == calls + 1, "the hot path did not serve the request"
        plain = await self.plain.get(url, headers=sent)
        assert len(self.hot_calls) == calls + 1, "the FastAPI app used the hot path"
        assert hot.status_code == plain.status_code, (url, hot.text, plain.text)
        assert hot.headers.raw == plain.headers.raw, url
        assert hot.content == plain.content, url
        return hot


async def _app(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(runtime=runtime)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://askpro.test") as client:
            yield client
    finally:
        await app.state.audit_writer.close()


@pytest.fixture
async def twin(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Twin]:
    calls: list[str] = []
    original = HotRead.__call__

    async def counted(self: HotRead, request: Any) -> Any:
        calls.append(request.url.path)
        return await original(self, request)

    monkeypatch.setattr(HotRead, "__call__", counted)
    monkeypatch.setattr(time, "time", lambda: 1_900_000_000.0)
    hot_app = _app(runtime)
    hot = await anext(hot_app)
    with monkeypatch.context() as plain_only:
        plain_only.setattr(api_package, "HOT_READS", {})
        plain_app = _app(runtime)
        plain = await anext(plain_app)
    try:
        yield Twin(hot, plain, calls)
    finally:
        for app in (hot_app, plain_app):
            await app.aclose()


@dataclass
class World:
    company: Company
    other: Company
    reader: IssuedTestToken
    staff_ids: list[int]


async def _world(session: AsyncSession) -> World:
    company = await factories.create_company(session, name="A")
    other = await factories.create_company(session, name="B")
    staff = [await factories.create_staff(session, company) for _ in range(2)]
    service = await factories.create_service(session, company, duration_minutes=30)
    for index in range(7):
        await factories.create_appointment(
            session,
            company,
            staff[index % 2],
            service,
            START + dt.timedelta(hours=index),
            status="cancelled" if index % 3 == 0 else "booked",
            notes='Grüße, "quoted" ✂' if index == 2 else None,
            cancellation_reason="ill" if index % 3 == 0 else None,
        )
    other_staff = await factories.create_staff(session, other)
    other_service = await factories.create_service(session, other, duration_minutes=30)
    await factories.create_appointment(session, other, other_staff, other_service, START)
    reader = await create_token(session, company, scopes=[Scope.APPOINTMENTS_READ])
    return World(company, other, reader, [member.id for member in staff])


async def test_pages_and_filters_are_byte_identical(twin: Twin, session: AsyncSession) -> None:
    world = await _world(session)
    await session.commit()
    headers = world.reader.headers
    staff = world.staff_ids[0]
    for query in (
        "",
        "?limit=3",
        "?starts_from=2030-01-07T10:00:00%2B01:00",
        f"?starts_before=2030-01-07T12:00:00Z&staff_id={staff}",
        "?status=booked&status=cancelled&limit=2",
        f"?status=cancelled&staff_id={staff}&starts_from=2030-01-07T08:00:00Z",
        "?starts_from=2031-01-01T00:00:00Z",  # an empty page
    ):
        answer = await twin.same(LIST + query, headers)
        assert answer.status_code == 200
        assert answer.headers["ratelimit-limit"]

    first = (await twin.same(f"{LIST}?limit=3", headers)).json()
    second = await twin.same(f"{LIST}?limit=3&cursor={first['next_cursor']}", headers)
    seen = [item["id"] for item in first["items"] + second.json()["items"]]
    assert len(seen) == len(set(seen)) == 6


async def test_the_page_is_what_the_declared_models_serialise(
    twin: Twin, session: AsyncSession
) -> None:
    """Same keys, order and datetime format as ``Page[AppointmentOut]`` (the document)."""
    world = await _world(session)
    await session.commit()
    answer = await twin.same(f"{LIST}?limit=4", world.reader.headers)
    rows = (
        await session.scalars(
            select(Appointment)
            .where(Appointment.company_id == world.company.id)
            .order_by(Appointment.starts_at, Appointment.id)
            .limit(4)
        )
    ).all()
    page = Page[AppointmentOut](
        items=[AppointmentOut.model_validate(row) for row in rows],
        next_cursor=answer.json()["next_cursor"],
    )
    assert answer.content == TypeAdapter(Page[AppointmentOut]).dump_json(page)


async def test_errors_are_byte_identical(
    twin: Twin, session: AsyncSession, database: Database
) -> None:
    world = await _world(session)
    platform = await create_token(session, None, scopes=[Scope.APPOINTMENTS_READ])
    staff_reader = await create_token(session, world.company, scopes=[Scope.STAFF_READ])
    await session.commit()
    reader = world.reader.headers
    cases: list[tuple[str, dict[str, str], int]] = [
        (LIST, {}, 401),
        (LIST, {"Authorization": "Basic abc"}, 401),
        (LIST, {"Authorization": "Bearer askpro_nope_nope"}, 401),
        (f"{LIST}?limit=0", {}, 401),  # authorisation runs before the query's validation
        (LIST, staff_reader.headers, 403),
        (f"{LIST}?staff_id=abc", reader, 422),
        (f"{LIST}?staff_id=0&limit=500&status=bogus&starts_from=tomorrow", reader, 422),
        (f"{LIST}?status=booked&status=nope", reader, 422),
        (f"{LIST}?stauts=booked", reader, 422),
        (f"{LIST}?stauts=booked", {}, 422),  # the router's check comes first
        (
            f"{LIST}?starts_from=2030-01-02T00:00:00Z&starts_before=2030-01-01T00:00:00Z",
            reader,
            400,
        ),
        (f"{LIST}?cursor=notacursor", reader, 400),
        (f"{LIST}?cursor=", reader, 400),
        (LIST, platform.headers, 400),
        (LIST, {**platform.headers, "X-Company-ID": "999999"}, 404),
        (LIST, {**reader, "X-Company-ID": str(world.other.id)}, 404),
        (LIST, {**reader, "X-Company-ID": "abc"}, 422),
        (f"{LIST}?limit=abc", {"X-Company-ID": "0"}, 422),  # header and query errors together
    ]
    for url, headers, status in cases:
        answer = await twin.same(url, headers)
        assert answer.status_code == status, (url, answer.text)
        if status >= 400:
            assert answer.headers["content-type"] == "application/problem+json"
    missing = await twin.same(LIST)
    assert missing.headers["www-authenticate"] == 'Bearer realm="askpro"'
    bad = (await twin.same(f"{LIST}?staff_id=abc", reader)).json()
    assert [error["field"] for error in bad["errors"]] == ["query.staff_id"]
    acting = await twin.same(LIST, {**platform.headers, "X-Company-ID": str(world.company.id)})
    assert acting.status_code == 200
    assert len(acting.json()["items"]) == 7


async def test_the_rate_limit_answers_alike(runtime: Runtime, session: AsyncSession) -> None:
    world = await _world(session)
    await session.commit()
    limited = Runtime(
        settings=runtime.settings.model_copy(update={"rate_limit_per_token": "2/minute"}),
        database=runtime.database,
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(time, "time", lambda: 1_900_000_000.0)
        calls: list[str] = []
        original = HotRead.__call__

        async def counted(self: HotRead, request: Any) -> Any:
            calls.append(request.url.path)
            return await original(self, request)

        patch.setattr(HotRead, "__call__", counted)
        hot_app = _app(limited)
        hot = await anext(hot_app)
        patch.setattr(api_package, "HOT_READS", {})
        plain_app = _app(limited)
        plain = await anext(plain_app)
        twin = Twin(hot, plain, calls)
        try:
            answers = [await twin.same(LIST, world.reader.headers) for _ in range(3)]
        finally:
            for app in (hot_app, plain_app):
                await app.aclose()
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert answers[1].headers["ratelimit-remaining"] == "0"
    assert answers[2].headers["retry-after"]


async def test_another_companys_appointments_never_appear(
    twin: Twin, session: AsyncSession
) -> None:
    world = await _world(session)
    other_reader = await create_token(session, world.other, scopes=[Scope.APPOINTMENTS_READ])
    await session.commit()
    mine = (await twin.same(f"{LIST}?limit=2", world.reader.headers)).json()
    theirs = await twin.same(LIST, other_reader.headers)
    assert {item["company_id"] for item in theirs.json()["items"]} == {world.other.id}
    assert len(theirs.json()["items"]) == 1
    # A cursor of company A's list pages through company B's rows only.
    after = await twin.same(f"{LIST}?cursor={mine['next_cursor']}", other_reader.headers)
    assert {item["company_id"] for item in after.json()["items"]} <= {world.other.id}
    staff = await twin.same(f"{LIST}?staff_id={world.staff_ids[0]}", other_reader.headers)
    assert staff.json()["items"] == []


@pytest.mark.parametrize(
    ("failure", "status", "slug"),
    [
        (RuntimeError("bug"), 500, "internal-error"),
        (psycopg.OperationalError("server closed the connection"), 503, "database-unavailable"),
        (DeadConnection("terminating connection"), 503, "database-unavailable"),
    ],
)
async def test_a_failure_is_a_problem_counted_under_the_route_template(
    api: httpx.AsyncClient,
    session: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
    failure: Exception,
    status: int,
    slug: str,
) -> None:
    world = await _world(session)
    await session.commit()

    calls: list[object] = []

    async def broken(*_: object) -> None:
        calls.append(failure)
        raise failure

    monkeypatch.setattr(KeysetQuery, "fetch", broken)
    answer = await api.get(f"{LIST}?limit=5", headers=world.reader.headers)
    # A dead pooled connection is tried once more on a fresh one; other failures are not.
    assert len(calls) == (2 if isinstance(failure, DeadConnection) else 1)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith(f"/{slug}")
    assert "X-Request-ID" in answer.headers
    metrics = (await api.get("/metrics")).text
    labels = f'method="GET",route="{LIST}",status="{status}"'
    assert f"askpro_http_requests_total{{{labels}}}" in metrics


async def test_auth_failures_are_audited_and_reads_are_not(
    runtime: Runtime, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same audit rows from both paths: 401 and 403 (with token, company and route
    template), nothing for a served read."""
    world = await _world(session)
    staff_reader = await create_token(session, world.company, scopes=[Scope.STAFF_READ])
    await session.commit()
    rows: dict[str, list[tuple[object, ...]]] = {}
    for label in ("hot", "plain"):
        if label == "plain":
            monkeypatch.setattr(api_package, "HOT_READS", {})
        app = create_app(runtime=runtime)
        transport = httpx.ASGITransport(app=app)
        ids = [uuid.uuid4().hex for _ in range(3)]
        async with httpx.AsyncClient(transport=transport, base_url="http://askpro.test") as client:
            for request_id, headers in zip(
                ids,
                [
                    {"Authorization": "Bearer askpro_nope"},
                    staff_reader.headers,
                    world.reader.headers,
                ],
                strict=True,
            ):
                await client.get(LIST, headers={**headers, "X-Request-ID": request_id})
        await app.state.audit_writer.close()
        found = (
            await session.scalars(
                select(AuditLog).where(AuditLog.correlation_id.in_(ids)).order_by(AuditLog.id)
            )
        ).all()
        rows[label] = [
            (
                ids.index(row.correlation_id),
                row.kind,
                row.status,
                row.token_id,
                row.company_id,
                row.route,
                row.method,
                row.path,
                row.resource_id,
                row.client_ip,
            )
            for row in found
        ]
    assert rows["hot"] == rows["plain"]
    assert [row[:5] for row in rows["hot"]] == [
        (0, "auth_failure", 401, None, None),
        (1, "auth_failure", 403, staff_reader.row.id, world.company.id),
    ]
    assert rows["hot"][0][5] == LIST
