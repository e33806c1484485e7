"""In-memory state of the Cal.com stand-in: event types, one schedule, bookings, faults.

Times are handled like Cal.com does: the schedule's hours are wall-clock times in the
schedule's time zone, slots step by the event type's length, and one host means a booking
of any event type blocks overlapping slots of every event type (buffers included).
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

STANDIN_API_KEY = "cal_test_askpro_standin"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
HOST = {
    "id": 1,
    "name": "Salon Demo",
    "email": "owner@salon-demo.example",
    "username": "salon-demo",
    "timeZone": "Europe/Berlin",
}


def wire_time(value: dt.datetime, zone: dt.tzinfo = dt.UTC) -> str:
    """Cal.com's ISO format with milliseconds (``…T09:00:00.000Z`` in UTC)."""
    text = value.astimezone(zone).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z") if zone is dt.UTC else text


def parse_time(text: str, *, end_of_day: bool = False) -> dt.datetime:
    """An ISO instant (``Z`` allowed) or a plain date (start or end of that UTC day)."""
    if len(text) == 10:
        day = dt.date.fromisoformat(text)
        clock = dt.time(23, 59, 59) if end_of_day else dt.time(0, 0)
        return dt.datetime.combine(day, clock, tzinfo=dt.UTC)
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


@dataclass
class StandinEventType:
    id: int
    title: str
    slug: str
    length_minutes: int
    after_buffer_minutes: int = 0
    before_buffer_minutes: int = 0
    minimum_notice_minutes: int = 0

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "lengthInMinutes": self.length_minutes,
            "title": self.title,
            "slug": self.slug,
            "description": "",
            "locations": [{"type": "address", "address": "Berlin Mitte", "public": True}],
            "bookingFields": [],
            "disableGuests": True,
            "slotInterval": None,
            "minimumBookingNotice": self.minimum_notice_minutes,
            "beforeEventBuffer": self.before_buffer_minutes,
            "afterEventBuffer": self.after_buffer_minutes,
            "recurrence": None,
            "metadata": {},
            "price": 0,
            "currency": "eur",
            "lockTimeZoneToggleOnBookingPage": False,
            "seatsPerTimeSlot": None,
            "forwardParamsSuccessRedirect": None,
            "successRedirectUrl": None,
            "isInstantEvent": False,
            "scheduleId": 1,
            "hidden": False,
            "bookingRequiresAuthentication": False,
            "ownerId": HOST["id"],
            "users": [HOST["username"]],
        }


@dataclass
class StandinSchedule:
    time_zone: str = "Europe/Berlin"
    # (days, "HH:MM", "HH:MM") as in Cal.com's availability entries.
    availability: list[tuple[tuple[str, ...], str, str]] = field(
        default_factory=lambda: [(WEEKDAYS[:6], "09:00", "18:00")]
    )
    overrides: dict[dt.date, tuple[str, str]] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": 1,
            "ownerId": HOST["id"],
            "name": "Opening hours",
            "timeZone": self.time_zone,
            "availability": [
                {"days": list(days), "startTime": start, "endTime": end}
                for days, start, end in self.availability
            ],
            "isDefault": True,
            "overrides": [
                {"date": day.isoformat(), "startTime": start, "endTime": end}
                for day, (start, end) in sorted(self.overrides.items())
            ],
        }

    def windows(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        zone = ZoneInfo(self.time_zone)
        if day in self.overrides:
            spans = [self.overrides[day]]
        else:
            name = WEEKDAYS[day.weekday()]
            spans = [(start, end) for days, start, end in self.availability if name in days]
        return [
            (
                dt.datetime.combine(day, dt.time.fromisoformat(start), tzinfo=zone),
                dt.datetime.combine(day, dt.time.fromisoformat(end), tzinfo=zone),
            )
            for start, end in spans
        ]


def demo_event_types() -> dict[int, StandinEventType]:
    """The demo salon's services (askpro.tenancy.demo), as Cal.com event types."""
    return {
        1001: StandinEventType(1001, "Haircut", "haircut", 30, after_buffer_minutes=10),
        1002: StandinEventType(1002, "Colouring", "colouring", 90, after_buffer_minutes=15),
        1003: StandinEventType(1003, "Beard trim", "beard-trim", 15, after_buffer_minutes=5),
    }


@dataclass
class Faults:
    """Knobs for failure modes; counters apply to the next N requests whose path starts
    with ``path_prefix``."""

    latency_seconds: float = 0.0
    errors: int = 0
    error_status: int = 500
    timeouts: int = 0
    timeout_seconds: float = 30.0
    malformed: int = 0
    # Process the request, then answer 502 as if the response was lost on the way back.
    lost_responses: int = 0
    # Process the request, then answer 200 with a body that is not JSON.
    garbled_responses: int = 0
    rate_limited: int = 0
    rate_limit_reset_seconds: int = 2
    down: bool = False
    path_prefix: str = "/v2/"


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    api_version: str | None
    body: Any


@dataclass
class StandinState:
    event_types: dict[int, StandinEventType] = field(default_factory=demo_event_types)
    schedule: StandinSchedule = field(default_factory=StandinSchedule)
    api_keys: set[str] = field(default_factory=lambda: {STANDIN_API_KEY})
    # Any key starting with "cal_" is accepted unless this is False.
    accept_any_cal_key: bool = True
    rate_limit_per_minute: int = 120
    strict_api_versions: bool = True
    faults: Faults = field(default_factory=Faults)
    bookings: dict[str, dict[str, Any]] = field(default_factory=dict)
    reservations: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _next_booking_id: int = 1

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def key_valid(self, key: str) -> bool:
        return key in self.api_keys or (self.accept_any_cal_key and key.startswith("cal_"))

    # --- availability -------------------------------------------------------------------

    def _busy(self, ignore_uid: str | None = None) -> list[tuple[dt.datetime, dt.datetime]]:
        now = self.now()
        busy = []
        for booking in self.bookings.values():
            if booking["status"] in ("accepted", "pending") and booking["uid"] != ignore_uid:
                event_type = self.event_types.get(booking["eventType"]["id"])
                before = event_type.before_buffer_minutes if event_type else 0
                after = event_type.after_buffer_minutes if event_type else 0
                busy.append(
                    (
                        parse_time(booking["start"]) - dt.timedelta(minutes=before),
                        parse_time(booking["end"]) + dt.timedelta(minutes=after),
                    )
                )
        for reservation in self.reservations.values():
            if parse_time(reservation["reservationUntil"]) > now:
                busy.append(
                    (parse_time(reservation["slotStart"]), parse_time(reservation["slotEnd"]))
                )
        return busy

    def free_starts(
        self,
        event_type: StandinEventType,
        start: dt.datetime,
        end: dt.datetime,
        *,
        length_minutes: int | None = None,
        ignore_uid: str | None = None,
    ) -> list[dt.datetime]:
        """Bookable starts in ``[start, end]``, in UTC."""
        length = dt.timedelta(minutes=length_minutes or event_type.length_minutes)
        before = dt.timedelta(minutes=event_type.before_buffer_minutes)
        after = dt.timedelta(minutes=event_type.after_buffer_minutes)
        earliest = self.now() + dt.timedelta(minutes=event_type.minimum_notice_minutes)
        busy = self._busy(ignore_uid)
        zone = ZoneInfo(self.schedule.time_zone)
        day = start.astimezone(zone).date() - dt.timedelta(days=1)
        last_day = end.astimezone(zone).date()
        starts: list[dt.datetime] = []
        while day <= last_day:
            for window_start, window_end in self.schedule.windows(day):
                slot = window_start
                while slot + length <= window_end:
                    slot_utc = slot.astimezone(dt.UTC)
                    blocked = (slot_utc - before, slot_utc + length + after)
                    if (
                        start <= slot_utc <= end
                        and slot_utc >= earliest
                        and not any(b0 < blocked[1] and blocked[0] < b1 for b0, b1 in busy)
                    ):
                        starts.append(slot_utc)
                    slot = (slot_utc + length).astimezone(zone)
            day += dt.timedelta(days=1)
        return starts

    def is_free(
        self, event_type: StandinEventType, start: dt.datetime, *, ignore_uid: str | None = None
    ) -> bool:
        return start in self.free_starts(event_type, start, start, ignore_uid=ignore_uid)

    # --- bookings -----------------------------------------------------------------------

    def new_booking(
        self,
        event_type: StandinEventType,
        start: dt.datetime,
        attendee: dict[str, Any],
        *,
        metadata: dict[str, Any] | None = None,
        guests: list[str] | None = None,
        booking_fields: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        now = wire_time(self.now())
        booking_id = self._next_booking_id
        self._next_booking_id += 1
        end = start + dt.timedelta(minutes=event_type.length_minutes)
        wire_attendee = {
            "name": attendee["name"],
            "email": attendee["email"],
            "timeZone": attendee["timeZone"],
            "language": attendee.get("language") or "en",
            "absent": False,
        }
        if attendee.get("phoneNumber"):
            wire_attendee["phoneNumber"] = attendee["phoneNumber"]
        booking: dict[str, Any] = {
            "id": booking_id,
            "uid": secrets.token_urlsafe(16),
            "title": f"{event_type.title} between {HOST['name']} and {attendee['name']}",
            "description": "",
            "hosts": [dict(HOST)],
            "status": "accepted",
            "start": wire_time(start),
            "end": wire_time(end),
            "duration": event_type.length_minutes,
            "eventTypeId": event_type.id,
            "eventType": {"id": event_type.id, "slug": event_type.slug},
            "location": "Berlin Mitte",
            "absentHost": False,
            "createdAt": now,
            "updatedAt": now,
            "attendees": [wire_attendee],
            "guests": list(guests or []),
            "bookingFieldsResponses": {
                "name": attendee["name"],
                "email": attendee["email"],
                **(booking_fields or {}),
            },
            "metadata": dict(metadata or {}),
        }
        self.bookings[booking["uid"]] = booking
        return booking

    def touch(self, booking: dict[str, Any]) -> None:
        booking["updatedAt"] = wire_time(self.now())
