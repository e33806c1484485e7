"""POST/GET /api/v1/appointments…: idempotent booking, outcomes as HTTP, cancel, reschedule."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.booking.gateway import GATEWAY_FACTORY_KEY
from askpro.db import Database
from askpro.models import Appointment, AppointmentEvent, Customer
from askpro.runtime import Runtime
from tests.fixtures.auth import IssuedTestToken, create_token
from tests.fixtures.booking import DAY, FakeCalendar, Salon, local
from tests.fixtures.factories import create_company, create_service, create_staff


@pytest.fixture
async def token(session: AsyncSession, salon: Salon) -> IssuedTestToken:
    issued = await create_token(session, salon.company, name="front desk")
    await session.commit()
    return issued


def _headers(token: IssuedTestToken, key: str | None = None) -> dict[str, str]:
    return {**token.headers, "Idempotency-Key": key or uuid.uuid4().hex}


def _body(salon: Salon, hour: int = 10, **fields: Any) -> dict[str, Any]:
    return {
        "service_id": salon.colouring.id,
        "customer": {"phone": "0151 23456789", "name": "Lisa"},
        "starts_at": local(DAY, hour).isoformat(),
        **fields,
    }


async def _count(database: Database, *where: Any) -> int:
    async with database.sessions() as session:
        return int(
            await session.scalar(select(func.count()).select_from(Appointment).where(*where))
        )


async def test_booking_creates_201_with_api_source_customer_and_history(
    api: httpx.AsyncClient, token: IssuedTestToken, salon: Salon, database: Database
) -> None:
    response = await api.post("/api/v1/appointments", json=_body(salon), headers=_headers(token))
    assert response.status_code == 201, response.text
    booked = response.json()
    assert booked["status"] == "booked"
    assert booked["source"] == "api"
    assert booked["starts_at"] == local(DAY, 10).isoformat().replace("+00:00", "Z")
    async with database.sessions() as session:
        customer = await session.get_one(Customer, booked["customer_id"])
        assert customer.phone == "+4915123456789"  # normalised with the company's country
    shown = await api.get(f"/api/v1/appointments/{booked['id']}", headers=token.headers)
    history = shown.json()["history"]
    assert [(row["kind"], row["channel"]) for row in history] == [("booked", "api")]
    assert history[0]["actor"] == f"api token {token.row.id} (front desk)"


async def test_five_concurrent_identical_requests_book_once_with_identical_answers(
    api: httpx.AsyncClient, token: IssuedTestToken, salon: Salon, database: Database
) -> None:
    headers = _headers(token, "same-key-5")
    responses = await asyncio.gather(
        *(api.post("/api/v1/appointments", json=_body(salon), headers=headers) for _ in range(5))
    )
    assert [r.status_code for r in responses] == [201] * 5, [r.text for r in responses]
    assert len({r.text for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 4
    assert await _count(database, Appointment.company_id == salon.company.id) == 1
    async with database.sessions() as session:
        customers = await session.scalar(select(func.count()).select_from(Customer))
    assert customers == 1


async def test_same_key_with_another_body_is_refused(
    api: httpx.AsyncClient, token: IssuedTestToken, salon: Salon, database: Database
) -> None:
    headers = _headers(token)
    first = await api.post("/api/v1/appointments", json=_body(salon), headers=headers)
    assert first.status_code == 201
    other = await api.post("/api/v1/appointments", json=_body(salon, hour=14), headers=headers)
    assert other.status_code == 422, other.text
    problem = other.json()
    assert problem["type"].endswith("/idempotency-key-reused")
    assert problem["appointment_id"] == first.json()["id"]
    assert [error["message"] for error in problem["errors"]] == ["starts_at"]
    assert await _count(database) == 1


async def test_a_repeat_after_a_reschedule_still_answers_with_the_appointment(
    api: httpx.AsyncClient, token: IssuedTestToken, salon: Salon
) -> None:
    headers = _headers(token)
    first = await api.post("/api/v1/appointments", json=_body(salon), headers=headers)
    moved = await api.post(
        f"/api/v1/appointments/{first.json()['id']}/reschedule",
        json={"starts_at": local(DAY, 15).isoformat()},
        headers=token.headers,
    )
    assert moved.status_code == 200, moved.text
    again = await api.post("/api/v1/appointments", json=_body(salon), headers=headers)
    assert again.status_code == 201, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["starts_at"] == moved.json()["starts_at"]


async def test_slot_taken_is_409_with_at_most_three_alternatives(
    api: httpx.AsyncClient, token: IssuedTestToken, salon: Salon, database: Database
) -> None:
    body = _body(salon, staff_id=salon.anna.id)
    first = await api.post("/api/v1/appointments", json=body, headers=_headers(token))
    assert first.status_code == 201
    second = await api.post(
        "/api/v1/appointments",
        json={**body, "customer": {"phone": "+4915199999999"}},
        headers=_headers(token),
    )
    assert second.status_code == 409, second.text
    assert second.headers["content-type"] == "application/problem+json"
    problem = second.json()
    assert problem["type"].endswith("/slot-taken")
    assert 1 <= len(problem["alternatives"]) <= 3
    for slot in problem["alternatives"]:
        assert slot["starts_at"] != first.json()["starts_at"]
        assert salon.anna.id in slot["staff_ids"]
    assert await _count(database) == 1


async def test_any_qualified_staff_takes_the_slot_when_none_is_named(
    api: httpx.AsyncClient, token: IssuedTestToken, salon: Salon
) -> None:
    answers = [
        await api.post(
            "/api/v1/appointments",
            json=_body(salon, customer={"phone": f"+49151000000{i}"}),
            headers=_headers(token),
        )
        for i in range(3)
    ]
    assert [a.status_code for a in answers] == [201, 201, 409]
    assert {a.json()["staff_id"] for a in answers[:2]} == {salon.anna.id, salon.ben.id}


async def test_cancel_twice_is_200_and_writes_one_history_row(
    api: httpx.AsyncClient, token: IssuedTestToken, salon: Salon, database: Database
) -> None:
    booked = await api.post("/api/v1/appointments", json=_body(salon), headers=_headers(token))
    url = f"/api/v1/appointments/{booked.json()['id']}/cancel"
    first = await api.post(url, headers=token.headers)
    second = await api.post(url, headers=token.headers)
    assert (first.status_code, second.status_code) == (200, 200), second.text
    assert first.json() == second.json()
    assert first.json()["status"] == "cancelled"
    assert first.json()["cancellation_reason"] == "cancelled_via_api"
    async with database.sessions() as session:
        kinds = (await session.scalars(select(AppointmentEvent.kind))).all()
    assert sorted(kinds) == ["booked", "cancelled"]
    # The freed slot can be booked again.
    again = await api.post("/api/v1/appointments", json=_body(salon), headers=_headers(token))
    assert again.status_code == 201


async def test_reschedule_moves_and_frees_the_old_time(
    api: httpx.AsyncClient, token: IssuedTestToken, salon: Salon
) -> None:
    body = _body(salon, staff_id=salon.anna.id)
    booked = (await api.post("/api/v1/appointments", json=body, headers=_headers(token))).json()
    moved = await api.post(
        f"/api/v1/appointments/{booked['id']}/reschedule",
        json={"starts_at": local(DAY, 13).isoformat()},
        headers=token.headers,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["starts_at"] == local(DAY, 13).isoformat().replace("+00:00", "Z")
    again = await api.post(
        "/api/v1/appointments",
        json={**body, "customer": {"phone": "+4915199999999"}},
        headers=_headers(token),
    )
    assert again.status_code == 201, again.text
    shown = await api.get(f"/api/v1/appointments/{booked['id']}", headers=token.headers)
    rescheduled = shown.json()["history"][-1]
    assert rescheduled["kind"] == "rescheduled"
    assert rescheduled["channel"] == "api"


async def test_reschedule_into_a_taken_slot_is_409_with_alternatives_and_moves_nothing(
    api: httpx.AsyncClient, token: IssuedTestToken, salon: Salon
) -> None:
    body = _body(salon, staff_id=salon.anna.id)
    first = (await api.post("/api/v1/appointments", json=body, headers=_headers(token))).json()
    other = {**body, "starts_at": local(DAY, 14).isoformat(), "customer": {"phone": "+4915111"}}
    second = (await api.post("/api/v1/appointments", json=other, headers=_headers(token))).json()
    clash = await api.post(
        f"/api/v1/appointments/{second['id']}/reschedule",
        json={"starts_at": first["starts_at"]},
        headers=token.headers,
    )
    assert clash.status_code == 409, clash.text
    assert clash.json()["type"].endswith("/slot-taken")
    assert 1 <= len(clash.json()["alternatives"]) <= 3
    unchanged = await api.get(f"/api/v1/appointments/{second['id']}", headers=token.headers)
    assert unchanged.json()["starts_at"] == second["starts_at"]


async def test_reschedule_of_a_cancelled_appointment_is_409(
    api: httpx.AsyncClient, token: IssuedTestToken, salon: Salon
) -> None:
    booked = (
        await api.post("/api/v1/appointments", json=_body(salon), headers=_headers(token))
    ).json()
    await api.post(f"/api/v1/appointments/{booked['id']}/cancel", headers=token.headers)
    moved = await api.post(
        f"/api/v1/appointments/{booked['id']}/reschedule",
        json={"starts_at": local(DAY, 13).isoformat()},
        headers=token.headers,
    )
    assert moved.status_code == 409
    assert moved.json()["type"].endswith("/appointment-not-booked")


def _fields(response: httpx.Response) -> list[str]:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return [error["field"] for error in response.json()["errors"]]


BAD_BODIES: list[tuple[str, dict[str, Any], str]] = [
    ("unknown field", {"colour": "red"}, "colour"),
    ("wrong type", {"service_id": "haircut"}, "service_id"),
    ("bad date", {"starts_at": "next tuesday"}, "starts_at"),
    ("naive datetime", {"starts_at": "2030-01-08T10:00:00"}, "starts_at"),
    ("year 9999", {"starts_at": "9999-12-31T23:00:00+00:00"}, "starts_at"),
    ("year 1", {"starts_at": "0001-01-01T00:30:00+01:00"}, "starts_at"),
    ("invalid phone", {"customer": {"phone": "12"}}, "customer.phone"),
    ("unknown customer field", {"customer": {"phone": "+4915123", "age": 3}}, "customer.age"),
    ("two customers", {"customer_id": 1}, "body"),
    ("unknown customer id", {"customer": None, "customer_id": 999999}, "customer_id"),
    ("unknown staff", {"staff_id": 999999}, "staff_id"),
    ("unknown branch", {"branch_id": 999999}, "branch_id"),
]


@pytest.mark.parametrize(
    ("change", "field"), [c[1:] for c in BAD_BODIES], ids=[c[0] for c in BAD_BODIES]
)
async def test_bad_booking_input_is_422_naming_the_field(
    api: httpx.AsyncClient,
    token: IssuedTestToken,
    salon: Salon,
    database: Database,
    change: dict[str, Any],
    field: str,
) -> None:
    response = await api.post(
        "/api/v1/appointments", json=_body(salon, **change), headers=_headers(token)
    )
    assert response.status_code == 422, response.text
    assert field in _fields(response)
    assert await _count(database) == 0


async def test_missing_idempotency_key_is_422_naming_the_header(
    api: httpx.AsyncClient, token: IssuedTestToken, salon: Salon
) -> None:
    response = await api.post("/api/v1/appointments", json=_body(salon), headers=token.headers)
    assert response.status_code == 422
    assert _fields(response) == ["header.Idempotency-Key"]


async def test_too_soon_and_outside_hours_are_422_naming_starts_at(
    api: httpx.AsyncClient, token: IssuedTestToken, salon: Salon
) -> None:
    import datetime as dt

    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)).isoformat()
    too_soon = await api.post(
        "/api/v1/appointments", json=_body(salon, starts_at=soon), headers=_headers(token)
    )
    assert too_soon.status_code == 422, too_soon.text
    assert too_soon.json()["type"].endswith("/too-soon")
    assert _fields(too_soon) == ["starts_at"]
    night = await api.post(
        "/api/v1/appointments",
        json=_body(salon, starts_at=local(DAY, 3).isoformat()),
        headers=_headers(token),
    )
    assert night.status_code == 422, night.text
    assert night.json()["type"].endswith("/outside-hours")


async def test_another_companys_service_or_customer_is_refused(
    api: httpx.AsyncClient, token: IssuedTestToken, salon: Salon, session: AsyncSession
) -> None:
    other = await create_company(session, name="Other")
    staff = await create_staff(session, other)
    service = await create_service(session, other, staff=[staff])
    stranger = Customer(company_id=other.id, phone="+4915100000099")
    session.add(stranger)
    await session.commit()
    foreign_service = await api.post(
        "/api/v1/appointments", json=_body(salon, service_id=service.id), headers=_headers(token)
    )
    assert foreign_service.status_code == 422
    assert _fields(foreign_service) == ["service_id"]
    foreign_customer = await api.post(
        "/api/v1/appointments",
        json=_body(salon, customer=None, customer_id=stranger.id),
        headers=_headers(token),
    )
    assert foreign_customer.status_code == 422
    assert _fields(foreign_customer) == ["customer_id"]


@pytest.fixture
def calendar(runtime: Runtime) -> Iterator[FakeCalendar]:
    fake = FakeCalendar()
    runtime.extras[GATEWAY_FACTORY_KEY] = lambda company, settings: fake
    yield fake
    runtime.extras.pop(GATEWAY_FACTORY_KEY, None)


async def test_calendar_down_still_books_with_sync_pending_and_a_job(
    api: httpx.AsyncClient,
    token: IssuedTestToken,
    salon: Salon,
    calendar: FakeCalendar,
    database: Database,
) -> None:
    calendar.down = True
    response = await api.post(
        "/api/v1/appointments",
        json=_body(salon, service_id=salon.haircut.id),
        headers=_headers(token),
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "booked"
    assert response.json()["calcom_sync_state"] == "pending"
    async with database.sessions() as session:
        jobs = await session.scalar(
            text("SELECT count(*) FROM procrastinate_jobs WHERE task_name LIKE 'askpro.booking%'")
        )
    assert jobs == 1


async def test_calendar_synced_and_calendar_conflict_answers(
    api: httpx.AsyncClient, token: IssuedTestToken, salon: Salon, calendar: FakeCalendar
) -> None:
    synced = await api.post(
        "/api/v1/appointments",
        json=_body(salon, service_id=salon.haircut.id),
        headers=_headers(token),
    )
    assert synced.status_code == 201, synced.text
    assert synced.json()["calcom_sync_state"] == "synced"
    assert synced.json()["calcom_booking_uid"] == "uid-1"
    calendar.taken.add(local(DAY, 15))
    conflict = await api.post(
        "/api/v1/appointments",
        json=_body(salon, 15, service_id=salon.haircut.id, customer={"phone": "+4915111"}),
        headers=_headers(token),
    )
    assert conflict.status_code == 409, conflict.text
    assert conflict.json()["reason"] == "calcom_conflict"
    assert conflict.json()["alternatives"]


@pytest.mark.parametrize("start", ["9999-12-31T23:00:00+00:00", "2030-01-08T10:00:00"])
async def test_bad_reschedule_times_are_422_naming_starts_at(
    api: httpx.AsyncClient, token: IssuedTestToken, salon: Salon, start: str
) -> None:
    booked = await api.post("/api/v1/appointments", json=_body(salon), headers=_headers(token))
    moved = await api.post(
        f"/api/v1/appointments/{booked.json()['id']}/reschedule",
        json={"starts_at": start},
        headers=token.headers,
    )
    assert moved.status_code == 422, moved.text
    assert _fields(moved) == ["starts_at"]


async def test_ten_clients_racing_for_one_slot_get_one_201_and_nine_409s(
    api: httpx.AsyncClient, token: IssuedTestToken, salon: Salon, database: Database
) -> None:
    body = _body(salon, staff_id=salon.anna.id)
    responses = await asyncio.gather(
        *(
            api.post(
                "/api/v1/appointments",
                json={**body, "customer": {"phone": f"+4915100000{i:03d}"}},
                headers=_headers(token),
            )
            for i in range(10)
        )
    )
    codes = sorted(response.status_code for response in responses)
    assert codes == [201] + [409] * 9, [r.text for r in responses]
    assert all(r.json()["alternatives"] for r in responses if r.status_code == 409)
    assert await _count(database, Appointment.status == "booked") == 1
