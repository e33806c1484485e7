"""Every endpoint of the client against the stand-in over real HTTP."""

from __future__ import annotations

import datetime as dt

import pytest

from askpro.integrations.calcom.client import CalcomClient
from askpro.integrations.calcom.errors import (
    CalcomAuthenticationError,
    CalcomNotFoundError,
    CalcomSlotUnavailableError,
    CalcomValidationError,
)
from askpro.integrations.calcom.standin.server import RunningStandin
from tests.integrations.calcom.helpers import BERLIN, booking_request, next_weekday_at


async def test_catalogue_and_me(calcom_client: CalcomClient) -> None:
    event_types = {et.id: et for et in await calcom_client.get_event_types()}
    assert {1001, 1002, 1003} <= set(event_types)
    assert (event_types[1001].title, event_types[1001].length_in_minutes) == ("Haircut", 30)
    assert event_types[1002].length_in_minutes == 90
    assert event_types[1003].length_in_minutes == 15
    [schedule] = await calcom_client.get_schedules()
    assert schedule.time_zone == "Europe/Berlin"
    assert schedule.availability[0].days[:6] == [
        "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
    ]  # fmt: skip
    assert (schedule.availability[0].start_time, schedule.availability[0].end_time) == (
        "09:00",
        "18:00",
    )
    me = await calcom_client.get_me()
    assert me.id == 1


async def test_slots_follow_the_schedule_in_berlin(calcom_client: CalcomClient) -> None:
    monday_nine = next_weekday_at(9)
    slots = await calcom_client.get_slots(
        1001, monday_nine - dt.timedelta(hours=2), monday_nine + dt.timedelta(hours=12),
        time_zone="Europe/Berlin",
    )  # fmt: skip
    assert slots[0].start == monday_nine
    assert slots[0].start.utcoffset() is not None
    assert slots[0].end == monday_nine + dt.timedelta(minutes=30)
    # 09:00..17:30 every 30 minutes
    assert len(slots) == 18
    assert slots[-1].start.astimezone(BERLIN).time() == dt.time(17, 30)
    sunday = monday_nine - dt.timedelta(days=1)
    assert await calcom_client.get_slots(1001, sunday, sunday + dt.timedelta(hours=9)) == []


async def test_booking_lifecycle(
    calcom_client: CalcomClient, calcom_standin: RunningStandin
) -> None:
    start = next_weekday_at(10)
    booking = await calcom_client.create_booking(booking_request(start))
    assert booking.status == "accepted"
    assert booking.start == start
    assert booking.resolved_event_type_id == 1001
    assert booking.attendees[0].phone_number == "+4915112345678"
    assert "askproIdempotencyKey" in booking.metadata

    day = (start - dt.timedelta(hours=2), start + dt.timedelta(hours=10))
    starts = [slot.start for slot in await calcom_client.get_slots(1001, *day)]
    assert start not in starts  # the booking removed its slot
    assert start + dt.timedelta(minutes=30) not in starts  # ... and the 10-minute buffer

    with pytest.raises(CalcomSlotUnavailableError) as taken:
        await calcom_client.create_booking(booking_request(start, name="Someone Else"))
    assert "already has booking" in taken.value.message
    assert taken.value.status == 400

    fetched = await calcom_client.get_booking(booking.uid)
    assert fetched.uid == booking.uid

    new_start = start + dt.timedelta(hours=3)
    moved = await calcom_client.reschedule_booking(booking.uid, new_start, reason="caller asked")
    assert moved.uid != booking.uid
    assert moved.rescheduled_from_uid == booking.uid
    assert moved.start == new_start
    old = await calcom_client.get_booking(booking.uid)
    assert (old.status, old.rescheduled_to_uid) == ("cancelled", moved.uid)

    cancelled = await calcom_client.cancel_booking(moved.uid, reason="no time")
    assert cancelled.status == "cancelled"
    assert cancelled.cancellation_reason == "no time"
    starts = [slot.start for slot in await calcom_client.get_slots(1001, *day)]
    assert start in starts
    assert new_start in starts

    page = await calcom_client.list_bookings(status="cancelled", take=1)
    assert page.pagination.total_items == 2
    assert page.pagination.has_next_page
    assert len(page.bookings) == 1
    page2 = await calcom_client.list_bookings(status=["cancelled"], take=1, skip=1)
    assert page2.pagination.current_page == 2
    assert {page.bookings[0].uid, page2.bookings[0].uid} == {booking.uid, moved.uid}
    updated = await calcom_client.list_bookings(
        after_updated_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5),
        sort_updated_at="asc",
        event_type_id=1001,
    )
    assert {b.uid for b in updated.bookings} == {booking.uid, moved.uid}
    versions = {
        (r.method, r.path.split("/")[2], r.api_version) for r in calcom_standin.state.requests
    }
    assert ("POST", "bookings", "2024-08-13") in versions
    assert ("GET", "slots", "2024-09-04") in versions


async def test_reservation_blocks_and_frees_the_slot(calcom_client: CalcomClient) -> None:
    start = next_weekday_at(11)
    reservation = await calcom_client.reserve_slot(1003, start, reservation_minutes=10)
    assert reservation.slot_start == start
    assert reservation.slot_end == start + dt.timedelta(minutes=15)
    window = (start - dt.timedelta(hours=1), start + dt.timedelta(hours=1))
    assert start not in [s.start for s in await calcom_client.get_slots(1003, *window)]
    await calcom_client.delete_reservation(reservation.reservation_uid)
    assert start in [s.start for s in await calcom_client.get_slots(1003, *window)]
    with pytest.raises(CalcomNotFoundError):
        await calcom_client.delete_reservation(reservation.reservation_uid)


async def test_client_errors_are_mapped(calcom_standin: RunningStandin) -> None:
    async with CalcomClient(calcom_standin.base_url, "wrong-key") as client:
        with pytest.raises(CalcomAuthenticationError):
            await client.get_event_types()
    async with CalcomClient(calcom_standin.base_url, calcom_standin.api_key) as client:
        with pytest.raises(CalcomNotFoundError):
            await client.get_booking("no-such-uid")
        with pytest.raises(CalcomValidationError) as invalid:
            await client.create_booking(booking_request(next_weekday_at(3)))  # outside hours
        assert isinstance(invalid.value, CalcomSlotUnavailableError)
        with pytest.raises(CalcomNotFoundError):
            await client.get_slots(4242, next_weekday_at(9), next_weekday_at(18))
