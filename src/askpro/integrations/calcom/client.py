"""The Cal.com API v2 client: one per API key, pooled connections, per-operation timeouts.

Every call goes: cache (reads) → retries (stamina) → rate limiter → circuit breaker → HTTP.
Idempotent reads are retried on 5xx, timeouts and connection errors with exponential
backoff and jitter; a 429 waits as long as Cal.com says when that fits the caller's
deadline. Writes are never retried blindly: before another attempt the client looks up
whether the first one took effect (a booking by its idempotency key, a reschedule by the
old booking's ``rescheduledToUid``, a cancel by the booking's status).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter

from askpro.integrations.calcom import wire
from askpro.integrations.calcom.dtos import (
    Booking,
    BookingPage,
    CancelBookingRequest,
    CreateBookingRequest,
    EventType,
    Me,
    Pagination,
    RescheduleBookingRequest,
    Reservation,
    ReserveSlotRequest,
    Schedule,
    Slot,
    utc_wire,
)
from askpro.integrations.calcom.errors import (
    CalcomSlotUnavailableError,
)
from askpro.integrations.calcom.transport import (
    LOOKED_UP,
    OPERATIONS,
    ApiVersions,
    CalcomTransport,
    Operation,
    RetryPolicy,
    list_of,
)
from askpro.observability import get_logger

log = get_logger(__name__)
T = TypeVar("T")

IDEMPOTENCY_METADATA_KEY = "askproIdempotencyKey"
__all__ = [
    "LOOKED_UP",
    "OPERATIONS",
    "ApiVersions",
    "CalcomClient",
    "Operation",
    "RetryPolicy",
]

_SLOTS = TypeAdapter(list[Slot])
_EVENT_TYPES = TypeAdapter(list[EventType])
_SCHEDULES = TypeAdapter(list[Schedule])


def local_day_range(day: dt.date, time_zone: str) -> tuple[dt.datetime, dt.datetime]:
    """``[00:00, 24:00)`` of ``day`` in ``time_zone``, in UTC (the cache's unit of slots)."""
    zone = ZoneInfo(time_zone)
    start = dt.datetime.combine(day, dt.time(0, 0), tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 0), tzinfo=zone)
    return start.astimezone(dt.UTC), (end - dt.timedelta(seconds=1)).astimezone(dt.UTC)


class CalcomClient(CalcomTransport):
    """Cal.com API v2 for one API key; see the module docstring for the call path."""

    # --- catalogue -----------------------------------------------------------------------

    async def get_event_types(self, *, username: str | None = None) -> list[EventType]:
        """The key user's event types, or (public) those of ``username``."""
        params = {"username": username} if username else None

        async def fetch() -> str:
            data = await self._call("event_types.list", "GET", "/v2/event-types", params=params)
            return _EVENT_TYPES.dump_json(list_of(EventType, data, "event_types.list")).decode()

        return _EVENT_TYPES.validate_json(
            await self._cached("event_types", ("event-types", username or ""), fetch)
        )

    async def get_team_event_types(self, team_id: int) -> list[EventType]:
        """A team's event types (round robin, collective; public), with their hosts."""

        async def fetch() -> str:
            path = f"/v2/teams/{team_id}/event-types"
            data = await self._call("teams.event_types", "GET", path)
            return _EVENT_TYPES.dump_json(list_of(EventType, data, "teams.event_types")).decode()

        return _EVENT_TYPES.validate_json(
            await self._cached("event_types", ("team-event-types", team_id), fetch)
        )

    async def get_schedules(self) -> list[Schedule]:
        """The key user's own schedules (``GET /v2/schedules``)."""
        text = await self._cached("schedules", ("schedules",), self._fetch_schedules)
        return _SCHEDULES.validate_json(text)

    async def _fetch_schedules(self) -> str:
        data = await self._call("schedules.list", "GET", "/v2/schedules")
        return _SCHEDULES.dump_json(list_of(Schedule, data, "schedules.list")).decode()

    async def get_team_schedules(self, team_id: int) -> list[Schedule]:
        """Every team member's schedules (needs a team-admin key; PROTOCOLS §1.8.6)."""

        async def fetch() -> str:
            path = f"/v2/teams/{team_id}/schedules"
            data = await self._call("teams.schedules", "GET", path, params={"take": 250})
            return _SCHEDULES.dump_json(list_of(Schedule, data, "teams.schedules")).decode()

        return _SCHEDULES.validate_json(
            await self._cached("schedules", ("team-schedules", team_id), fetch)
        )

    async def get_me(self) -> Me:
        data = await self._call("me.get", "GET", "/v2/me")
        result: Me = wire.validated(Me, data, "me.get")
        return result

    # --- availability --------------------------------------------------------------------

    async def get_slots(
        self,
        event_type_id: int,
        start: dt.datetime,
        end: dt.datetime,
        *,
        time_zone: str | None = None,
        duration_minutes: int | None = None,
    ) -> list[Slot]:
        """Bookable starts of an event type between ``start`` and ``end`` (aware datetimes)."""
        params: dict[str, Any] = {
            "eventTypeId": event_type_id,
            "start": utc_wire(start),
            "end": utc_wire(end),
            "format": "range",
        }
        if time_zone:
            params["timeZone"] = time_zone
        if duration_minutes:
            params["duration"] = duration_minutes

        async def fetch() -> str:
            data = await self._call("slots.get", "GET", "/v2/slots", params=params)
            return _SLOTS.dump_json(wire.parse_slots(data, "slots.get")).decode()

        if self.cache is None:
            return _SLOTS.validate_json(await fetch())
        generation = await self.cache.slots_generation(self.account, event_type_id)
        key = (
            "slots",
            f"g{generation}",
            event_type_id,
            params["start"],
            params["end"],
            time_zone or "",
            duration_minutes or "",
        )
        text = await self._cached("slots", key, fetch, ttl=self.cache.slots_ttl)
        return _SLOTS.validate_json(text)

    async def get_day_slots(
        self,
        event_type_id: int,
        day: dt.date,
        time_zone: str,
        *,
        duration_minutes: int | None = None,
    ) -> list[Slot]:
        """Slots of one local day; the unit ``warm-cache`` fills, so these lookups hit it."""
        start, end = local_day_range(day, time_zone)
        return await self.get_slots(
            event_type_id, start, end, time_zone=time_zone, duration_minutes=duration_minutes
        )

    async def reserve_slot(
        self,
        event_type_id: int,
        slot_start: dt.datetime,
        *,
        slot_duration_minutes: int | None = None,
        reservation_minutes: int | None = None,
    ) -> Reservation:
        body = ReserveSlotRequest(
            event_type_id=event_type_id,
            slot_start=slot_start,
            slot_duration=slot_duration_minutes,
            reservation_duration=reservation_minutes,
        )
        data = await self._call("slots.reserve", "POST", "/v2/slots/reservations", json=body)
        result: Reservation = wire.validated(Reservation, data, "slots.reserve")
        await self.invalidate_slots(event_type_id)
        return result

    async def delete_reservation(self, reservation_uid: str) -> None:
        path = f"/v2/slots/reservations/{reservation_uid}"
        await self._call("slots.delete_reservation", "DELETE", path, expect_data=False)

    # --- bookings ------------------------------------------------------------------------

    async def create_booking(
        self,
        request: CreateBookingRequest,
        *,
        idempotency_key: str | None = None,
        check_existing: bool = False,
    ) -> Booking:
        """Book once. ``idempotency_key`` (stable per local appointment, e.g. from a job that
        may run again) goes into the booking's metadata; with ``check_existing`` the client
        first looks for a booking already carrying it (a previous run's) and returns that.
        Within one call, failures that may have booked are looked up before any retry."""
        metadata = dict(request.metadata or {})
        key = idempotency_key or metadata.get(IDEMPOTENCY_METADATA_KEY) or uuid.uuid4().hex
        metadata[IDEMPOTENCY_METADATA_KEY] = key
        request = request.model_copy(update={"metadata": metadata})

        async def already_done() -> Booking | None:
            return await self.find_booking_by_idempotency_key(key, request.start)

        if check_existing:
            existing = await already_done()
            if existing is not None:
                return existing

        try:
            return await self._write(
                "bookings.create", "/v2/bookings", request, already_done, request.event_type_id
            )
        except CalcomSlotUnavailableError:
            await self.invalidate_slots(request.event_type_id)  # our cached view was stale
            raise

    async def find_booking_by_idempotency_key(self, key: str, start: dt.datetime) -> Booking | None:
        page = await self.list_bookings(
            after_start=start - dt.timedelta(minutes=1),
            before_end=start + dt.timedelta(days=1),
            take=100,
        )
        for booking in page.bookings:
            if booking.metadata.get(IDEMPOTENCY_METADATA_KEY) == key:
                return booking
        return None

    async def get_booking(self, uid: str) -> Booking:
        data = await self._call("bookings.get", "GET", f"/v2/bookings/{uid}")
        if isinstance(data, list):  # a recurring booking uid answers with every recurrence
            data = next((item for item in data if item.get("uid") == uid), data[0] if data else {})
        result: Booking = wire.validated(Booking, data, "bookings.get")
        return result

    async def list_bookings(
        self,
        *,
        status: str | list[str] | None = None,
        attendee_email: str | None = None,
        attendee_name: str | None = None,
        booking_uid: str | None = None,
        event_type_id: int | None = None,
        event_type_ids: list[int] | None = None,
        after_start: dt.datetime | None = None,
        before_end: dt.datetime | None = None,
        after_created_at: dt.datetime | None = None,
        before_created_at: dt.datetime | None = None,
        after_updated_at: dt.datetime | None = None,
        before_updated_at: dt.datetime | None = None,
        sort_start: str | None = None,
        sort_end: str | None = None,
        sort_created: str | None = None,
        sort_updated_at: str | None = None,
        take: int | None = None,
        skip: int | None = None,
    ) -> BookingPage:
        params: dict[str, Any] = {}
        if status is not None:
            params["status"] = status if isinstance(status, str) else ",".join(status)
        for name, text in (
            ("attendeeEmail", attendee_email),
            ("attendeeName", attendee_name),
            ("bookingUid", booking_uid),
            ("sortStart", sort_start),
            ("sortEnd", sort_end),
            ("sortCreated", sort_created),
            ("sortUpdatedAt", sort_updated_at),
        ):
            if text is not None:
                params[name] = text
        if event_type_id is not None:
            params["eventTypeId"] = str(event_type_id)
        if event_type_ids:
            params["eventTypeIds"] = ",".join(str(value) for value in event_type_ids)
        for name, moment in (
            ("afterStart", after_start),
            ("beforeEnd", before_end),
            ("afterCreatedAt", after_created_at),
            ("beforeCreatedAt", before_created_at),
            ("afterUpdatedAt", after_updated_at),
            ("beforeUpdatedAt", before_updated_at),
        ):
            if moment is not None:
                params[name] = utc_wire(moment)
        if take is not None:
            params["take"] = take
        if skip is not None:
            params["skip"] = skip
        body = await self._call("bookings.list", "GET", "/v2/bookings", params=params, raw=True)
        data, pagination = body.get("data"), body.get("pagination")
        bookings = list_of(Booking, data, "bookings.list")
        return BookingPage(
            bookings=bookings, pagination=wire.validated(Pagination, pagination, "bookings.list")
        )

    async def reschedule_booking(
        self,
        uid: str,
        start: dt.datetime,
        *,
        reason: str | None = None,
        rescheduled_by: str | None = None,
    ) -> Booking:
        """Move a booking; Cal.com answers with a NEW booking (new uid, ``rescheduledFromUid``)."""
        request = RescheduleBookingRequest(
            start=start, rescheduling_reason=reason, rescheduled_by=rescheduled_by
        )

        async def already_done() -> Booking | None:
            old = await self.get_booking(uid)
            return (
                await self.get_booking(old.rescheduled_to_uid) if old.rescheduled_to_uid else None
            )

        return await self._write(
            "bookings.reschedule", f"/v2/bookings/{uid}/reschedule", request, already_done, None
        )

    async def cancel_booking(self, uid: str, *, reason: str | None = None) -> Booking:
        request = CancelBookingRequest(cancellation_reason=reason)

        async def already_done() -> Booking | None:
            current = await self.get_booking(uid)
            return current if current.status == "cancelled" else None

        return await self._write(
            "bookings.cancel", f"/v2/bookings/{uid}/cancel", request, already_done, None
        )
