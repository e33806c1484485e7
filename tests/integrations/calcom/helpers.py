"""Shared helpers of the Cal.com tests."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from askpro.integrations.calcom.dtos import CreateBookingAttendee, CreateBookingRequest

BERLIN = ZoneInfo("Europe/Berlin")


def next_weekday_at(hour: int, minute: int = 0, *, days_ahead: int = 7) -> dt.datetime:
    """A Berlin wall-clock time on a Monday at least ``days_ahead`` days from now, in UTC."""
    day = dt.datetime.now(BERLIN).date() + dt.timedelta(days=days_ahead)
    while day.weekday() != 0:
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=BERLIN).astimezone(dt.UTC)


def booking_request(
    start: dt.datetime, event_type_id: int = 1001, *, name: str = "Lisa Müller", **extra: object
) -> CreateBookingRequest:
    return CreateBookingRequest(
        start=start,
        event_type_id=event_type_id,
        attendee=CreateBookingAttendee(
            name=name,
            time_zone="Europe/Berlin",
            email="lisa@example.com",
            phone_number="+4915112345678",
            language="de",
        ),
        **extra,  # type: ignore[arg-type]
    )
