"""The seam between the booking engine and the calendar it mirrors (Cal.com).

The booking engine asks a :class:`CalendarGateway` for the bookable start times of an
event type (each staff member's own calendar, or a shared one), for who works when
(:class:`WorkingHours` per Cal.com user) and pushes bookings to it. :func:`gateway_for`
picks the Cal.com-backed gateway when the company has Cal.com configured; without one the
engine works from local opening hours only and no sync is required. Tests install their
own factory in ``runtime.extras``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from askpro.config import Settings
from askpro.kit.time import zone
from askpro.models import Company

GATEWAY_FACTORY_KEY = "booking.gateway_factory"


class CalendarUnavailable(Exception):
    """The calendar cannot be reached now (down, timeout, breaker open): try again later."""


class CalendarSlotGone(Exception):
    """The calendar refused the booking because the time is no longer free."""


class CalendarRejected(Exception):
    """The calendar refused the change for another reason (bad request, not found…)."""


@dataclass(frozen=True)
class CalendarBooking:
    uid: str
    # True when the calendar already held this booking (a repeated create was linked).
    existing: bool = False
    # The Cal.com user the calendar assigned (a round-robin host); None when unknown.
    host_user_id: int | None = None


@dataclass(frozen=True)
class BookingPush:
    """What the calendar needs to create a booking (times are UTC)."""

    appointment_id: int
    event_type_id: int
    start: dt.datetime
    duration_minutes: int
    attendee_name: str
    attendee_phone: str | None
    attendee_email: str | None
    time_zone: str
    language: str
    # A previous attempt may have reached the calendar: look for the booking before creating.
    retry: bool = False


Span = tuple[dt.time, dt.time]


@dataclass(frozen=True)
class WorkingHours:
    """When one person works: weekly spans (0 = Monday) in a time zone, and date overrides
    that replace a day's spans (an empty list is a day off). A Cal.com schedule."""

    time_zone: str
    weekly: dict[int, tuple[Span, ...]]
    overrides: dict[dt.date, tuple[Span, ...]] = field(default_factory=dict)

    def spans(self, day: dt.date) -> tuple[Span, ...]:
        return self.overrides.get(day, self.weekly.get(day.weekday(), ()))

    def covers(self, start: dt.datetime, end: dt.datetime) -> bool:
        """True when ``[start, end)`` lies inside one working span of its local day."""
        tz = zone(self.time_zone)
        local_start, local_end = start.astimezone(tz), end.astimezone(tz)
        day = local_start.date()
        for opens, closes in self.spans(day):
            span_start = dt.datetime.combine(day, opens, tz)
            # "00:00" as an end means midnight at the end of the day (Cal.com's 24:00).
            span_end = (
                dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tz)
                if closes == dt.time(0) and opens != dt.time(0)
                else dt.datetime.combine(day, closes, tz)
            )
            if span_start <= local_start and local_end <= span_end:
                return True
        return False


class CalendarGateway(Protocol):
    async def slots(
        self,
        event_type_id: int,
        duration_minutes: int,
        start: dt.datetime,
        end: dt.datetime,
        time_zone: str,
    ) -> list[dt.datetime]:
        """Bookable start instants (aware) of the event type in ``[start, end)``."""
        ...

    async def working_hours(self, team_id: int | None) -> dict[int, WorkingHours]:
        """Who works when, per Cal.com user id: the team members' default schedules (with a
        team), else the key user's own. Users missing here are unknown, not off."""
        ...

    async def create(self, push: BookingPush) -> CalendarBooking: ...

    async def reschedule(self, uid: str, start: dt.datetime, reason: str | None) -> str:
        """Move a booking; returns the new uid (Cal.com gives the moved booking a new uid)."""
        ...

    async def cancel(self, uid: str, reason: str | None) -> None: ...


GatewayFactory = Callable[[Company, Settings], "CalendarGateway | None"]


@dataclass(frozen=True)
class OpeningHours:
    """Local fallback availability: these hours on these weekdays (0 = Monday)."""

    opens: dt.time = dt.time(9, 0)
    closes: dt.time = dt.time(18, 0)
    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4, 5})
    step_minutes: int = 15

    def working_hours(self, time_zone: str) -> WorkingHours:
        span = ((self.opens, self.closes),)
        return WorkingHours(time_zone, {day: span for day in self.weekdays})

    def slots(
        self, duration_minutes: int, start: dt.datetime, end: dt.datetime, time_zone: str
    ) -> list[dt.datetime]:
        """Start instants on local wall-clock times; DST days get their real UTC offsets."""
        tz = zone(time_zone)
        day = start.astimezone(tz).date()
        last_day = end.astimezone(tz).date()
        found: list[dt.datetime] = []
        duration = dt.timedelta(minutes=duration_minutes)
        while day <= last_day:
            if day.weekday() in self.weekdays:
                moment = dt.datetime.combine(day, self.opens, tz)
                closing = dt.datetime.combine(day, self.closes, tz)
                while moment + duration <= closing:
                    instant = moment.astimezone(dt.UTC)
                    if start <= instant < end:
                        found.append(instant)
                    # Step in UTC so a DST change inside opening hours keeps real intervals.
                    moment = (instant + dt.timedelta(minutes=self.step_minutes)).astimezone(tz)
            day += dt.timedelta(days=1)
        return found


def gateway_for(
    company: Company, settings: Settings, extras: dict[str, object]
) -> CalendarGateway | None:
    factory = extras.get(GATEWAY_FACTORY_KEY)
    if factory is not None:
        return factory(company, settings)  # type: ignore[operator, no-any-return]
    from askpro.booking.calcom_gateway import calcom_gateway_for

    return calcom_gateway_for(company, settings, extras)
