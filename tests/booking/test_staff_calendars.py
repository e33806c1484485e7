"""Team round-robin hosts map to staff, the stand-in survives a restart, cancel reasons are
kept: the demo salon against the Cal.com stand-in over HTTP."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
from pydantic import SecretStr
from sqlalchemy import select, update

from askpro.app import create_app
from askpro.config import Settings
from askpro.db import Database
from askpro.integrations.calcom.client import CalcomClient
from askpro.integrations.calcom.service import close_all_clients
from askpro.integrations.calcom.standin import (
    STANDIN_API_KEY,
    create_standin_app,
    persistent_state,
)
from askpro.integrations.calcom.standin.server import ServedApp, serve_in_thread
from askpro.integrations.calcom.sync.handlers import sync_booking_event
from askpro.models import Appointment, AppointmentEvent, Service, StaffService
from askpro.runtime import Runtime
from askpro.tenancy.demo import DEMO_PHONE_NUMBER, seed_demo_company
from tests.fixtures.booking import DAY
from tests.fixtures.calcom import add_calcom_webhook_event, sample_webhook_body
from tests.fixtures.demo import BEN_USER, Demo, at
from tests.fixtures.retell import post_tool

TEAM_HAIRCUT = 3001
CALCOM_TIME = "%Y-%m-%dT%H:%M:%S.000Z"


async def _use_team_round_robin(database: Database, service_id: int) -> None:
    """Haircut is one team round-robin event type; nobody has an own event type for it."""
    async with database.sessions() as session:
        await session.execute(
            update(StaffService)
            .where(StaffService.service_id == service_id)
            .values(calcom_event_type_id=None)
        )
        await session.execute(
            update(Service).where(Service.id == service_id).values(calcom_event_type_id=3001)
        )
        await session.commit()


async def test_round_robin_host_cal_com_assigns_is_the_staff_member_recorded(demo: Demo) -> None:
    await _use_team_round_robin(demo.database, demo.haircut_id)
    # Anna is busy in Cal.com at 10:00 (askpro does not know it): Cal.com must assign Ben.
    state = demo.standin.state
    attendee = {"name": "Walk-in", "email": "walk-in@example.com", "timeZone": "Europe/Berlin"}
    with state.lock:
        state.new_booking(state.event_types[2001], at(DAY, 10), attendee, host=state.users[11])
    args = {"service": "Haircut", "date": DAY.isoformat(), "time": "10:00"}
    body = await demo.tool("book_appointment", args, "rr-1", "+491510000500")
    assert (body["outcome"], body["appointment"]["staff"]) == ("booked", "Ben"), body
    team_booking = next(b for b in demo.standin_bookings() if b["eventType"]["id"] == TEAM_HAIRCUT)
    assert team_booking["hosts"][0]["id"] == BEN_USER
    async with demo.database.sessions() as session:
        row = await session.scalar(select(Appointment).where(Appointment.status == "booked"))
        assert row is not None
        assert (row.staff_id, row.calcom_booking_uid) == (demo.staff["Ben"], team_booking["uid"])
        kinds = list(await session.scalars(select(AppointmentEvent.kind).order_by("id")))
    assert kinds == ["booked", "calcom_created", "staff_reassigned"]


async def test_team_booking_made_in_cal_com_is_recorded_on_the_organizers_staff_member(
    demo: Demo,
) -> None:
    await _use_team_round_robin(demo.database, demo.haircut_id)
    start = at(DAY, 15).astimezone(dt.UTC)
    body = sample_webhook_body(
        "BOOKING_CREATED",
        uid="team-booking-1",
        eventTypeId=TEAM_HAIRCUT,
        startTime=start.strftime(CALCOM_TIME),
        endTime=(start + dt.timedelta(minutes=30)).strftime(CALCOM_TIME),
        organizer={"id": BEN_USER, "name": "Ben", "email": "ben@salon-demo.example"},
        metadata={},
    )
    async with demo.database.sessions() as session:
        event = await add_calcom_webhook_event(session, body)
        await sync_booking_event(session, event)
        await session.commit()
        row = await session.scalar(
            select(Appointment).where(Appointment.calcom_booking_uid == "team-booking-1")
        )
    assert row is not None
    assert (row.staff_id, row.status, row.source) == (demo.staff["Ben"], "booked", "calcom")


async def test_cancel_reason_is_stored_and_sent_to_cal_com(demo: Demo) -> None:
    ids = []
    for hour in (12, 13):
        created = await demo.book_via_api(at(DAY, hour))
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    with_reason = await demo.http.post(
        f"/api/v1/appointments/{ids[0]}/cancel",
        json={"reason": "customer is ill"},
        headers=demo.token.headers,
    )
    without = await demo.http.post(
        f"/api/v1/appointments/{ids[1]}/cancel", headers=demo.token.headers
    )
    assert with_reason.status_code == without.status_code == 200
    assert with_reason.json()["cancellation_reason"] == "customer is ill"
    assert without.json()["cancellation_reason"] == "cancelled_via_api"
    reasons = {b["uid"]: b.get("cancellationReason") for b in demo.standin.state.bookings.values()}
    assert sorted(reasons.values(), key=str) == ["cancelled_via_api", "customer is ill"]
    detail = await demo.http.get(f"/api/v1/appointments/{ids[0]}", headers=demo.token.headers)
    kinds = [event["kind"] for event in detail.json()["history"]]
    assert kinds == ["booked", "calcom_created", "cancelled", "calcom_cancelled"]
    assert detail.json()["history"][2]["changes"] == {"reason": "customer is ill"}
    refused = await demo.http.post(
        f"/api/v1/appointments/{ids[0]}/cancel",
        json={"reason": ""},
        headers=demo.token.headers,
    )
    assert refused.status_code == 422


def _serve_standin(data_dir: Path) -> ServedApp:
    """The stand-in as ``askpro serve --demo`` mounts it: its state under ``data_dir``."""
    return serve_in_thread(lambda _port: create_standin_app(persistent_state(data_dir)))


async def _tool(
    settings: Settings, database: Database, base_url: str, name: str, args: dict[str, str]
) -> dict[str, object]:
    """One tool call through the app, with Cal.com at ``base_url``."""
    pointed = settings.model_copy(
        update={"calcom_api_base": base_url, "calcom_api_key": SecretStr(STANDIN_API_KEY)}
    )
    app = create_app(runtime=Runtime(pointed, database))
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://askpro.test") as http:
            response = await post_tool(
                http, name, args, call_id=f"restart-{name}", to_number=DEMO_PHONE_NUMBER
            )
    finally:
        await app.state.audit_writer.close()
        await close_all_clients()
    body: dict[str, object] = response.json()
    return body


async def test_after_a_restart_the_standin_still_knows_every_booking(
    settings: Settings, database: Database, queue: None, tmp_path: Path
) -> None:
    async with database.sessions() as session:
        await seed_demo_company(session)
        await session.commit()
    args = {"service": "Haircut", "staff": "Anna", "date": DAY.isoformat(), "time": "10:00"}
    served = _serve_standin(tmp_path)
    try:
        booked = await _tool(settings, database, served.base_url, "book_appointment", args)
    finally:
        served.stop()
    assert booked["outcome"] == "booked", booked
    assert (tmp_path / "calcom-standin.json").exists()
    async with database.sessions() as session:
        uid = await session.scalar(select(Appointment.calcom_booking_uid))
    assert uid is not None

    served = _serve_standin(tmp_path)  # a new process: state read back from the data dir
    try:
        client = CalcomClient(served.base_url, STANDIN_API_KEY)
        async with client:
            found = await client.get_booking(uid)
            slots = await client.get_slots(2001, at(DAY, 0), at(DAY, 23))
        listing = {"service": "Haircut", "staff": "Anna", "date": DAY.isoformat()}
        offered = await _tool(settings, database, served.base_url, "check_availability", listing)
    finally:
        served.stop()
    assert found.status == "accepted"
    starts = [slot.start for slot in slots]
    assert starts
    assert at(DAY, 10) not in starts
    options = [option["start"] for option in offered["options"]]  # type: ignore[union-attr]
    assert options
    assert at(DAY, 10).isoformat() not in options
