"""What the agent hears when the calendar is down or disagrees."""

from __future__ import annotations

import httpx
from sqlalchemy import select, text

from askpro.booking import tasks
from askpro.booking.gateway import GATEWAY_FACTORY_KEY
from askpro.models import Appointment
from askpro.runtime import Runtime
from tests.fixtures.booking import DAY, FakeCalendar, Salon, local
from tests.fixtures.retell import post_tool


async def test_calendar_down_listing_is_upstream_unavailable_booking_is_pending(
    client: httpx.AsyncClient, runtime: Runtime, salon: Salon
) -> None:
    calendar = FakeCalendar(down=True)
    runtime.extras[GATEWAY_FACTORY_KEY] = lambda company, settings: calendar
    listing = (
        await post_tool(
            client,
            "check_availability",
            {"service": "Haircut", "date": DAY.isoformat()},
            call_id="down-1",
            to_number=salon.number,
        )
    ).json()
    assert listing["outcome"] == "upstream_unavailable"
    assert listing["message"] == (
        "Ich erreiche den Kalender gerade nicht; versuchen wir es gleich noch einmal."
    )
    booked = (
        await post_tool(
            client,
            "book_appointment",
            {"service": "Haircut", "date": DAY.isoformat(), "time": "10:00"},
            call_id="down-1",
            to_number=salon.number,
        )
    ).json()
    assert booked["outcome"] == "pending_confirmation"
    assert "die Bestätigung folgt in Kürze" in booked["message"]
    assert booked["appointment"]["confirmed"] is False
    # The calendar comes back: the job confirms it; nothing is booked twice.
    calendar.down = False
    assert await tasks.sync_appointment(appointment_id=booked["appointment"]["id"]) == "synced"
    assert len(calendar.bookings) == 1


async def test_calendar_conflict_is_told_with_alternatives(
    client: httpx.AsyncClient, runtime: Runtime, salon: Salon
) -> None:
    calendar = FakeCalendar(taken={local(DAY, 11)})
    runtime.extras[GATEWAY_FACTORY_KEY] = lambda company, settings: calendar
    body = (
        await post_tool(
            client,
            "book_appointment",
            {"service": "Haircut", "date": DAY.isoformat(), "time": "11:00"},
            call_id="conflict-1",
            to_number=salon.number,
        )
    ).json()
    assert body["outcome"] == "slot_taken"
    assert body["reason"] == "calcom_conflict"
    assert body["message"].startswith("Dieser Termin ist leider gerade vergeben worden. Ich kann")
    assert 1 <= len(body["options"]) <= 3
    async with runtime.database.sessions() as session:
        row = (await session.execute(select(Appointment))).scalar_one()
        assert (row.status, row.cancellation_reason) == ("cancelled", "calcom_conflict")


async def test_old_tool_answers_are_pruned(
    runtime: Runtime, salon: Salon, client: httpx.AsyncClient
) -> None:
    await post_tool(
        client,
        "cancel_appointment",
        {"appointment_id": 999},
        call_id="prune-1",
        to_number=salon.number,
    )
    async with runtime.database.sessions() as session:
        await session.execute(
            text("UPDATE tool_call_answers SET created_at = now() - interval '8 days'")
        )
        await session.commit()
    assert await tasks.prune_tool_answers(timestamp=0) == 1
