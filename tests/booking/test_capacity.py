"""Booking at real capacity, told truthfully: the demo salon (Anna and Ben, each with their
own Cal.com calendar) against the Cal.com stand-in over HTTP, on real PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select, text

from askpro.db import Database
from askpro.models import Appointment
from tests.booking.test_concurrency import OVERLAPS
from tests.fixtures.booking import DAY
from tests.fixtures.demo import ANNA_USER, BEN_USER, Demo, at, next_weekday


async def _no_overlaps(database: Database) -> None:
    async with database.sessions() as session:
        assert (await session.execute(text(OVERLAPS))).scalar_one() == 0


async def _booked_rows(database: Database) -> list[Appointment]:
    async with database.sessions() as session:
        rows = await session.scalars(select(Appointment).where(Appointment.status == "booked"))
        return list(rows)


async def test_fifty_concurrent_tool_calls_book_each_staff_member_once_in_their_calendar(
    demo: Demo,
) -> None:
    args = {"service": "Haircut", "date": DAY.isoformat(), "time": "09:00"}
    bodies = await asyncio.gather(
        *(
            demo.tool("book_appointment", args, f"cap-{index}", f"+49151000{index:05d}")
            for index in range(50)
        )
    )
    assert Counter(body["outcome"] for body in bodies) == {"booked": 2, "slot_taken": 48}
    for body in bodies:
        if body["outcome"] == "slot_taken":
            assert 1 <= len(body["options"]) <= 3, body
            assert body["reason"] in ("staff_booked", "calendar_busy")
            assert body["message"].startswith("Dieser Termin ist leider gerade vergeben worden.")
    booked = await _booked_rows(demo.database)
    assert sorted(row.staff_id for row in booked) == sorted(demo.staff.values())
    assert {row.calcom_sync_state for row in booked} == {"synced"}
    await _no_overlaps(demo.database)
    # Each booking is in that member's own Cal.com calendar (their event type, their host).
    in_calendar = {
        (b["hosts"][0]["id"], b["eventType"]["id"], b["start"]) for b in demo.standin_bookings()
    }
    start = at(DAY, 9).astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert in_calendar == {(ANNA_USER, 2001, start), (BEN_USER, 2011, start)}
    uids = {row.calcom_booking_uid for row in booked}
    assert uids == {b["uid"] for b in demo.standin_bookings()}


async def test_fifty_concurrent_api_bookings_two_created_the_rest_409(demo: Demo) -> None:
    responses = await asyncio.gather(*(demo.book_via_api(at(DAY, 11)) for _ in range(50)))
    statuses = Counter(response.status_code for response in responses)
    assert statuses == {201: 2, 409: 48}
    for response in responses:
        if response.status_code == 409:
            problem = response.json()
            assert problem["type"].endswith("slot-taken")
            assert problem["reason"] in ("staff_booked", "calendar_busy")
            assert 1 <= len(problem["alternatives"]) <= 3
    created = {response.json()["staff_id"] for r in responses if (response := r).status_code == 201}
    assert created == set(demo.staff.values())
    assert len(demo.standin_bookings()) == 2
    await _no_overlaps(demo.database)


async def test_a_taken_time_inside_working_hours_is_slot_taken_for_tools_and_api(
    demo: Demo,
) -> None:
    args = {"service": "Haircut", "date": DAY.isoformat(), "time": "14:00"}
    for index in range(2):
        body = await demo.tool("book_appointment", args, f"fill-{index}", f"+4915100001{index}")
        assert body["outcome"] == "booked"
    asked = await demo.tool("check_availability", args, "ask-again", "+491510000199")
    assert (asked["outcome"], asked["reason"]) == ("slot_taken", "calendar_busy")
    assert 1 <= len(asked["options"]) <= 3
    booked = await demo.tool("book_appointment", args, "book-again", "+491510000198")
    assert booked["outcome"] == "slot_taken"
    response = await demo.book_via_api(at(DAY, 14))
    assert response.status_code == 409, response.text
    assert response.json()["reason"] == "calendar_busy"


@pytest.mark.parametrize(
    ("label", "day", "hour", "staff"),
    [
        ("Sunday", next_weekday(6), 10, None),
        ("22:00 on a Wednesday", DAY, 22, None),
        ("Ben's day off (Monday in his Cal.com schedule)", next_weekday(0), 10, "Ben"),
    ],
)
async def test_outside_hours_only_when_nobody_works(
    demo: Demo, label: str, day: dt.date, hour: int, staff: str | None
) -> None:
    args: dict[str, Any] = {"service": "Haircut", "date": day.isoformat(), "time": f"{hour}:00"}
    if staff:
        args["staff"] = staff
    for tool in ("check_availability", "book_appointment"):
        body = await demo.tool(tool, args, f"closed-{tool}", "+491510000300")
        assert (body["outcome"], body["reason"]) == ("outside_hours", "no_staff_working"), label
        assert body["message"].startswith("Zu dieser Zeit haben wir leider nicht geöffnet.")
    fields = {"staff_id": demo.staff[staff]} if staff else {}
    response = await demo.book_via_api(at(day, hour), **fields)
    assert response.status_code == 422, response.text
    assert response.json()["type"].endswith("outside-hours")
    assert response.json()["reason"] == "no_staff_working"
    assert demo.standin_bookings() == []


async def test_on_bens_day_off_anyone_books_anna(demo: Demo) -> None:
    monday = next_weekday(0)
    args = {"service": "Haircut", "date": monday.isoformat(), "time": "10:00"}
    body = await demo.tool("book_appointment", args, "monday-1", "+491510000400")
    assert (body["outcome"], body["appointment"]["staff"]) == ("booked", "Anna")
    again = await demo.tool("book_appointment", args, "monday-2", "+491510000401")
    assert (again["outcome"], again["reason"]) == ("slot_taken", "calendar_busy")
