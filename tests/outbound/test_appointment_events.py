"""Every appointment change announces itself: booked, rescheduled, cancelled, sync_failed,
written by the database in the same statement as the history row (the outbox trigger)."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.models import AppointmentEvent, OutboundEvent
from askpro.outbound.schemas import AppointmentPayload
from tests.api.world import bookable_start
from tests.fixtures import factories
from tests.fixtures.auth import create_token


async def _events(session: AsyncSession) -> list[OutboundEvent]:
    return list((await session.execute(select(OutboundEvent).order_by(OutboundEvent.id))).scalars())


async def test_book_move_cancel_via_the_api_announce_each_change_in_order(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    company = await factories.create_company(session)
    staff = await factories.create_staff(session, company)
    service = await factories.create_service(session, company, staff=[staff])
    token = await create_token(session, company)
    await session.commit()
    headers = {**token.headers, "Idempotency-Key": "k-1"}
    booked = await client.post(
        "/api/v1/appointments",
        json={"service_id": service.id, "customer": {"phone": "+4915123456789"},
              "starts_at": bookable_start()},
        headers=headers,
    )  # fmt: skip
    assert booked.status_code == 201, booked.text
    appointment_id = booked.json()["id"]
    moved = await client.post(
        f"/api/v1/appointments/{appointment_id}/reschedule",
        json={"starts_at": bookable_start(hour=11)},
        headers=token.headers,
    )
    assert moved.status_code == 200, moved.text
    cancelled = await client.post(
        f"/api/v1/appointments/{appointment_id}/cancel", json={}, headers=token.headers
    )
    assert cancelled.status_code == 200, cancelled.text

    events = await _events(session)
    assert [event.type for event in events] == [
        "appointment.booked",
        "appointment.rescheduled",
        "appointment.cancelled",
    ]
    assert {event.ordering_key for event in events} == {f"appointment:{appointment_id}"}
    assert len({event.message_id for event in events}) == 3
    payloads = [AppointmentPayload.model_validate(event.payload) for event in events]
    assert [payload.status for payload in payloads] == ["booked", "booked", "cancelled"]
    assert payloads[1].changes["start"]["to"] == payloads[1].start.isoformat()
    assert payloads[0].actor_channel == "api"


@pytest.mark.parametrize(
    ("kind", "announced"),
    [
        ("booked", "appointment.booked"),
        ("booked_from_hold", "appointment.booked"),
        ("calcom.created", "appointment.booked"),
        ("rescheduled", "appointment.rescheduled"),
        ("calcom.rescheduled", "appointment.rescheduled"),
        ("cancelled", "appointment.cancelled"),
        ("calcom.cancelled", "appointment.cancelled"),
        ("sync_failed", "appointment.sync_failed"),
        ("held", None),
        ("calcom_created", None),
    ],
)
async def test_each_history_kind_announces_its_event_type(
    session: AsyncSession, kind: str, announced: str | None
) -> None:
    company = await factories.create_company(session)
    staff = await factories.create_staff(session, company)
    service = await factories.create_service(session, company, staff=[staff])
    appointment = await factories.create_appointment(
        session, company, staff, service, dt.datetime(2030, 1, 7, 9, tzinfo=dt.UTC)
    )
    session.add(
        AppointmentEvent(
            company_id=company.id,
            appointment_id=appointment.id,
            kind=kind,
            actor="t",
            channel="system",
        )
    )
    await session.flush()
    events = await _events(session)
    assert [event.type for event in events] == ([announced] if announced else [])
    for event in events:
        payload = AppointmentPayload.model_validate(event.payload)  # extra fields are refused
        assert payload.appointment_id == appointment.id
        assert payload.start == appointment.starts_at
        assert set(event.payload) == set(AppointmentPayload.model_fields)
    await session.rollback()
