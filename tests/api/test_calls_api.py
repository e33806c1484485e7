"""/api/v1/calls: filters, newest-first cursor pages, and a call with its appointments."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.models import Call, Company
from tests.fixtures.auth import IssuedTestToken, create_token
from tests.fixtures.booking import DAY, local
from tests.fixtures.factories import (
    create_appointment,
    create_company,
    create_customer,
    create_service,
    create_staff,
)

T0 = dt.datetime(2030, 3, 1, 9, tzinfo=dt.UTC)


@pytest.fixture
async def company(session: AsyncSession) -> Company:
    company = await create_company(session, name="Salon")
    await session.commit()
    return company


@pytest.fixture
async def token(session: AsyncSession, company: Company) -> IssuedTestToken:
    issued = await create_token(session, company)
    await session.commit()
    return issued


async def _call(
    session: AsyncSession, company: Company, index: int, status: str = "ended", **fields: object
) -> Call:
    call = Call(
        call_id=f"call_{company.id}_{index}",
        company_id=company.id,
        started_at=T0 + dt.timedelta(hours=index),
        status=status,
        **fields,
    )
    session.add(call)
    await session.flush()
    return call


def _ids(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_list_filters_and_pages_newest_first(
    api: httpx.AsyncClient, token: IssuedTestToken, company: Company, session: AsyncSession
) -> None:
    lisa = await create_customer(session, company, phone="+4915100000001")
    calls = [
        await _call(session, company, i, customer_id=lisa.id if i % 2 else None) for i in range(5)
    ]
    ongoing = await _call(session, company, 5, status="ongoing")
    other = await create_company(session, name="Other")
    await _call(session, other, 0)
    await session.commit()
    ids = [call.id for call in calls]

    def get(query: str) -> Awaitable[httpx.Response]:
        return api.get(f"/api/v1/calls?{query}", headers=token.headers)

    assert _ids(await get("")) == [ongoing.id, *reversed(ids)]
    assert _ids(await get("status=ongoing")) == [ongoing.id]
    assert _ids(await get(f"customer_id={lisa.id}")) == [ids[3], ids[1]]
    since = (T0 + dt.timedelta(hours=1)).isoformat()
    until = (T0 + dt.timedelta(hours=3)).isoformat()
    window = await api.get(
        "/api/v1/calls", params={"since": since, "until": until}, headers=token.headers
    )
    assert _ids(window) == [ids[2], ids[1]]
    first = await get("limit=4")
    rest = await get(f"limit=4&cursor={first.json()['next_cursor']}")
    assert _ids(first) + _ids(rest) == [ongoing.id, *reversed(ids)]
    assert rest.json()["next_cursor"] is None


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("since=2030-01-01T09:00:00", 422, "query.since"),
        ("until=yesterday", 422, "query.until"),
        ("since=2030-01-02T00:00:00Z&until=2030-01-01T00:00:00Z", 400, "query.until"),
        ("status=lost", 422, "query.status.0"),
        ("customer_id=0", 422, "query.customer_id"),
        ("cursor=%25%25", 400, "query.cursor"),
    ],
)
async def test_bad_call_filters_name_the_field(
    api: httpx.AsyncClient, token: IssuedTestToken, query: str, status: int, field: str
) -> None:
    response = await api.get(f"/api/v1/calls?{query}", headers=token.headers)
    assert response.status_code == status, response.text
    assert field in [error["field"] for error in response.json()["errors"]]


async def test_a_call_shows_transcript_analysis_and_the_appointments_it_booked(
    api: httpx.AsyncClient, token: IssuedTestToken, company: Company, session: AsyncSession
) -> None:
    staff = await create_staff(session, company)
    service = await create_service(session, company, staff=[staff])
    call = await _call(
        session,
        company,
        0,
        transcript="Agent: Hallo!\nUser: Einen Termin bitte.",
        summary="Booked a haircut.",
        sentiment="Positive",
        analysis={"call_successful": True},
    )
    booked = await create_appointment(
        session, company, staff, service, local(DAY, 10), call_id=call.id, source="phone"
    )
    await create_appointment(
        session, company, staff, service, local(DAY, 12), call_id=call.id, status="held"
    )
    await create_appointment(session, company, staff, service, local(DAY, 14))  # another call's
    await session.commit()
    response = await api.get(f"/api/v1/calls/{call.id}", headers=token.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["transcript"].startswith("Agent: Hallo!")
    assert body["summary"] == "Booked a haircut."
    assert body["sentiment"] == "Positive"
    assert body["analysis"] == {"call_successful": True}
    assert [item["id"] for item in body["appointments"]] == [booked.id]  # holds are not shown
