"""The Cal.com-backed :class:`CalendarGateway`: slots and schedules through the cached
client, bookings pushed with an idempotency key so a repeated push links the existing one."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import TypeVar

from askpro.booking.gateway import (
    BookingPush,
    CalendarBooking,
    CalendarGateway,
    CalendarRejected,
    CalendarSlotGone,
    CalendarUnavailable,
    Span,
    WorkingHours,
)
from askpro.config import Settings
from askpro.integrations.calcom.client import CalcomClient
from askpro.integrations.calcom.dtos import (
    Booking,
    CreateBookingAttendee,
    CreateBookingRequest,
    Schedule,
)
from askpro.integrations.calcom.errors import (
    CalcomError,
    CalcomRateLimitError,
    CalcomSlotUnavailableError,
    CalcomUnavailableError,
)
from askpro.integrations.calcom.service import calcom_client_for
from askpro.kit.time import zone
from askpro.models import Company

# Metadata askpro puts on bookings it makes: the local appointment id links them directly.
APPOINTMENT_METADATA_KEY = "askproAppointmentId"
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

T = TypeVar("T")


def idempotency_key(appointment_id: int) -> str:
    return f"askpro-appointment-{appointment_id}"


def placeholder_email(phone: str | None) -> str:
    """Cal.com requires an attendee e-mail; phone callers often have none."""
    digits = "".join(ch for ch in phone or "" if ch.isdigit()) or "anonymous"
    return f"caller-{digits}@phone.askpro.invalid"


async def _translated(call: Callable[[], Awaitable[T]]) -> T:
    try:
        return await call()
    except CalcomSlotUnavailableError as error:
        raise CalendarSlotGone(str(error)) from error
    except (CalcomUnavailableError, CalcomRateLimitError) as error:
        raise CalendarUnavailable(str(error)) from error
    except CalcomError as error:
        raise CalendarRejected(str(error)) from error


def _span(start: str, end: str) -> Span:
    return dt.time.fromisoformat(start), dt.time.fromisoformat(end)


def working_hours_of(schedule: Schedule) -> WorkingHours:
    """A Cal.com schedule (English weekday names, "HH:MM" wall-clock spans) as hours."""
    weekly: dict[int, list[Span]] = {}
    for entry in schedule.availability:
        for name in entry.days:
            if name in WEEKDAY_NAMES:
                weekly.setdefault(WEEKDAY_NAMES.index(name), []).append(
                    _span(entry.start_time, entry.end_time)
                )
    overrides: dict[dt.date, list[Span]] = {}
    for override in schedule.overrides:
        overrides.setdefault(override.date, []).append(
            _span(override.start_time, override.end_time)
        )
    return WorkingHours(
        schedule.time_zone,
        {day: tuple(spans) for day, spans in weekly.items()},
        {day: tuple(spans) for day, spans in overrides.items()},
    )


def host_user_id(booking: Booking) -> int | None:
    """The assigned host (``hosts[0]``; its id is ``"unknown"`` when the user is gone)."""
    return booking.hosts[0].id if booking.hosts else None


class CalcomGateway:
    def __init__(self, client: CalcomClient) -> None:
        self.client = client

    async def working_hours(self, team_id: int | None) -> dict[int, WorkingHours]:
        """Each owner's default schedule (else their first one)."""

        async def fetch() -> list[Schedule]:
            if team_id is not None:
                return await self.client.get_team_schedules(team_id)
            return await self.client.get_schedules()

        schedules = await _translated(fetch)
        hours: dict[int, WorkingHours] = {}
        for schedule in sorted(schedules, key=lambda item: (not item.is_default, item.id)):
            hours.setdefault(schedule.owner_id, working_hours_of(schedule))
        return hours

    async def slots(
        self,
        event_type_id: int,
        duration_minutes: int,
        start: dt.datetime,
        end: dt.datetime,
        time_zone: str,
    ) -> list[dt.datetime]:
        """Fetched per local day (the cache's unit), then cut to ``[start, end)``."""
        tz = zone(time_zone)
        first, last = (
            start.astimezone(tz).date(),
            (end - dt.timedelta(microseconds=1)).astimezone(tz).date(),
        )
        days = [first + dt.timedelta(days=offset) for offset in range((last - first).days + 1)]

        async def fetch() -> list[dt.datetime]:
            per_day = await asyncio.gather(
                *(self.client.get_day_slots(event_type_id, day, time_zone) for day in days)
            )
            return [
                slot.start.astimezone(dt.UTC)
                for slots in per_day
                for slot in slots
                if start <= slot.start < end
            ]

        return await _translated(fetch)

    async def create(self, push: BookingPush) -> CalendarBooking:
        key = idempotency_key(push.appointment_id)
        if push.retry:
            existing = await _translated(
                lambda: self.client.find_booking_by_idempotency_key(key, push.start)
            )
            if existing is not None:
                return CalendarBooking(
                    existing.uid, existing=True, host_user_id=host_user_id(existing)
                )
        request = CreateBookingRequest(
            start=push.start,
            event_type_id=push.event_type_id,
            attendee=CreateBookingAttendee(
                name=push.attendee_name,
                time_zone=push.time_zone,
                email=push.attendee_email or placeholder_email(push.attendee_phone),
                phone_number=push.attendee_phone,
                language=push.language,
            ),
            metadata={APPOINTMENT_METADATA_KEY: str(push.appointment_id)},
        )
        booking = await _translated(
            lambda: self.client.create_booking(request, idempotency_key=key)
        )
        return CalendarBooking(booking.uid, host_user_id=host_user_id(booking))

    async def reschedule(self, uid: str, start: dt.datetime, reason: str | None) -> str:
        booking = await _translated(
            lambda: self.client.reschedule_booking(uid, start, reason=reason)
        )
        return booking.uid

    async def cancel(self, uid: str, reason: str | None) -> None:
        await _translated(lambda: self.client.cancel_booking(uid, reason=reason))


def calcom_gateway_for(
    company: Company, settings: Settings, extras: dict[str, object]
) -> CalendarGateway | None:
    client = calcom_client_for(company, settings)
    return None if client is None else CalcomGateway(client)
