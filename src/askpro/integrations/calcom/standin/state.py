"""State of the Cal.com stand-in: users with their own schedules and calendars, individual
and team round-robin event types, bookings, faults; optionally persisted to a JSON file.

Times are handled like Cal.com does: a user's schedule hours are wall-clock times in the
schedule's time zone, slots step by the event type's length, and a booking of a user
blocks overlapping slots of every event type that user hosts (buffers included). A
round-robin team event type offers a start when at least one host is free then, and a
booking of it is assigned to the free host with the fewest bookings that day (then the
lowest id), who is ``hosts[0]`` of the booking.

With ``persist_path`` set, bookings and reservations are written to that file after every
change and read back at start, so a restarted ``askpro serve`` still knows them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

STANDIN_API_KEY = "cal_test_askpro_standin"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
OWNER_ID = 1
DEMO_TEAM_ID = 100


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
    """An individual event type (``owner_id``'s calendar) or, with ``team_id``, a team
    round-robin type whose ``host_ids`` share the bookings."""

    id: int
    title: str
    slug: str
    length_minutes: int
    after_buffer_minutes: int = 0
    before_buffer_minutes: int = 0
    minimum_notice_minutes: int = 0
    owner_id: int | None = OWNER_ID
    team_id: int | None = None
    host_ids: tuple[int, ...] = ()

    @property
    def hosts(self) -> tuple[int, ...]:
        if self.team_id is not None:
            return self.host_ids
        return (self.owner_id,) if self.owner_id is not None else ()

    def to_wire(self, users: dict[int, StandinUser] | None = None) -> dict[str, Any]:
        owner = (users or {}).get(self.owner_id or 0)
        wire = self._wire(owner.username if owner else "salon-demo")
        if self.team_id is not None:
            wire["ownerId"] = None
            wire["users"] = []
            wire["teamId"] = self.team_id
            wire["schedulingType"] = "roundRobin"
            wire["hosts"] = [
                {
                    "userId": host_id,
                    "name": users[host_id].name if users and host_id in users else None,
                    "username": users[host_id].username if users and host_id in users else None,
                    "avatarUrl": None,
                    "mandatory": False,
                    "priority": "medium",
                }
                for host_id in self.host_ids
            ]
        return wire

    def _wire(self, owner_username: str) -> dict[str, Any]:
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
            "scheduleId": None,
            "hidden": False,
            "bookingRequiresAuthentication": False,
            "ownerId": self.owner_id,
            "users": [owner_username],
        }


@dataclass
class StandinSchedule:
    owner_id: int = OWNER_ID
    time_zone: str = "Europe/Berlin"
    # (days, "HH:MM", "HH:MM") as in Cal.com's availability entries.
    availability: list[tuple[tuple[str, ...], str, str]] = field(
        default_factory=lambda: [(WEEKDAYS[:6], "09:00", "18:00")]
    )
    overrides: dict[dt.date, tuple[str, str]] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.owner_id,
            "ownerId": self.owner_id,
            "name": "Working hours",
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


@dataclass
class StandinUser:
    id: int
    name: str | None
    username: str
    email: str
    schedule: StandinSchedule
    time_zone: str = "Europe/Berlin"

    def host_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "email": self.email,
            "username": self.username,
            "timeZone": self.time_zone,
        }


# The salon's stylists in Cal.com: (user id, name, first event type id). The demo company
# (askpro.tenancy.demo) maps Anna and Ben; the others are there for larger set-ups (bench).
STYLISTS = ((11, "Anna", 2001), (12, "Ben", 2011), (13, "Clara", 2021), (14, "David", 2031),
            (15, "Eva", 2041))  # fmt: skip


def demo_users() -> dict[int, StandinUser]:
    """The demo salon's account owner and its stylists; Ben does not work on Mondays."""
    users = {
        OWNER_ID: StandinUser(
            OWNER_ID, "Salon Demo", "salon-demo", "owner@salon-demo.example",
            StandinSchedule(OWNER_ID),
        )
    }  # fmt: skip
    for user_id, name, _first in STYLISTS:
        days = WEEKDAYS[1:6] if name == "Ben" else WEEKDAYS[:6]
        users[user_id] = StandinUser(
            user_id,
            name,
            f"{name.lower()}-salon-demo",
            f"{name.lower()}@salon-demo.example",
            StandinSchedule(user_id, availability=[(days, "09:00", "18:00")]),
        )
    return users


DEMO_SERVICES = (
    ("Haircut", "haircut", 30, 10),
    ("Colouring", "colouring", 90, 15),
    ("Beard trim", "beard-trim", 15, 5),
)


def demo_event_types() -> dict[int, StandinEventType]:
    """The demo salon's services (askpro.tenancy.demo) as Cal.com event types: the owner's
    (1001-1003), each stylist's (Anna 2001-2003, Ben 2011-2013, Clara 2021-2023, …) and team
    round-robin (3001-3003, hosts Anna and Ben)."""
    owners = [(1000, OWNER_ID, "")] + [
        (first - 1, user_id, f"-{name.lower()}") for user_id, name, first in STYLISTS
    ]
    types: dict[int, StandinEventType] = {}
    for index, (title, slug, length, after) in enumerate(DEMO_SERVICES, start=1):
        for base, owner, suffix in owners:
            types[base + index] = StandinEventType(
                base + index,
                title,
                slug + suffix,
                length,
                after_buffer_minutes=after,
                owner_id=owner,
            )
        types[3000 + index] = StandinEventType(
            3000 + index,
            title,
            slug + "-team",
            length,
            after_buffer_minutes=after,
            owner_id=None,
            team_id=DEMO_TEAM_ID,
            host_ids=(11, 12),
        )
    return types  # fmt: skip


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
    # GET /v2/bookings always answers hasNextPage: true.
    endless_pages: bool = False
    # GET /v2/bookings ignores ``skip`` (every page is the first one).
    ignore_skip: bool = False
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
    users: dict[int, StandinUser] = field(default_factory=demo_users)
    # Team id → member user ids (GET /v2/teams/{id}/schedules answers with theirs).
    teams: dict[int, tuple[int, ...]] = field(default_factory=lambda: {DEMO_TEAM_ID: (1, 11, 12)})
    persist_path: Path | None = None
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

    def __post_init__(self) -> None:
        if self.persist_path is not None and self.persist_path.exists():
            saved = json.loads(self.persist_path.read_text())
            self.bookings = saved.get("bookings", {})
            self.reservations = saved.get("reservations", {})
            self._next_booking_id = int(saved.get("next_booking_id", 1))

    def save(self) -> None:
        """Write bookings and reservations to ``persist_path`` (atomically), if set."""
        if self.persist_path is None:
            return
        self.persist_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.persist_path.with_suffix(".tmp")
        temporary.write_text(
            json.dumps(
                {
                    "bookings": self.bookings,
                    "reservations": self.reservations,
                    "next_booking_id": self._next_booking_id,
                }
            )
        )
        os.replace(temporary, self.persist_path)

    @property
    def schedule(self) -> StandinSchedule:
        """The account owner's schedule (the key user's)."""
        return self.users[OWNER_ID].schedule

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def key_valid(self, key: str) -> bool:
        return key in self.api_keys or (self.accept_any_cal_key and key.startswith("cal_"))

    # --- availability -------------------------------------------------------------------

    def _busy(
        self, user_id: int, ignore_uid: str | None = None
    ) -> list[tuple[dt.datetime, dt.datetime]]:
        """What blocks ``user_id``: their live bookings and live reservations (buffered)."""
        now = self.now()
        busy = []
        for booking in self.bookings.values():
            if booking["status"] not in ("accepted", "pending") or booking["uid"] == ignore_uid:
                continue
            if booking["hosts"][0]["id"] != user_id:
                continue
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
            event_type = self.event_types.get(reservation["eventTypeId"])
            if event_type is None or user_id not in event_type.hosts:
                continue
            if parse_time(reservation["reservationUntil"]) > now:
                busy.append(
                    (parse_time(reservation["slotStart"]), parse_time(reservation["slotEnd"]))
                )
        return busy

    def _user_starts(
        self,
        user_id: int,
        event_type: StandinEventType,
        start: dt.datetime,
        end: dt.datetime,
        length: dt.timedelta,
        ignore_uid: str | None,
    ) -> list[dt.datetime]:
        user = self.users.get(user_id)
        if user is None:
            return []
        before = dt.timedelta(minutes=event_type.before_buffer_minutes)
        after = dt.timedelta(minutes=event_type.after_buffer_minutes)
        earliest = self.now() + dt.timedelta(minutes=event_type.minimum_notice_minutes)
        busy = self._busy(user_id, ignore_uid)
        zone = ZoneInfo(user.schedule.time_zone)
        day = start.astimezone(zone).date() - dt.timedelta(days=1)
        last_day = end.astimezone(zone).date()
        starts: list[dt.datetime] = []
        while day <= last_day:
            for window_start, window_end in user.schedule.windows(day):
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

    def free_hosts(
        self,
        event_type: StandinEventType,
        start: dt.datetime,
        *,
        ignore_uid: str | None = None,
    ) -> list[int]:
        """Hosts of the event type free at ``start``."""
        length = dt.timedelta(minutes=event_type.length_minutes)
        return [
            host
            for host in event_type.hosts
            if start in self._user_starts(host, event_type, start, start, length, ignore_uid)
        ]

    def free_starts(
        self,
        event_type: StandinEventType,
        start: dt.datetime,
        end: dt.datetime,
        *,
        length_minutes: int | None = None,
        ignore_uid: str | None = None,
    ) -> list[dt.datetime]:
        """Bookable starts in ``[start, end]``, in UTC: when at least one host is free."""
        length = dt.timedelta(minutes=length_minutes or event_type.length_minutes)
        found: set[dt.datetime] = set()
        for host in event_type.hosts:
            found.update(self._user_starts(host, event_type, start, end, length, ignore_uid))
        return sorted(found)

    def assign_host(
        self, event_type: StandinEventType, start: dt.datetime, *, ignore_uid: str | None = None
    ) -> StandinUser | None:
        """The host who gets a booking at ``start``: the free one with the fewest bookings
        that day (round robin), then the lowest id; ``None`` when nobody is free."""
        free = self.free_hosts(event_type, start, ignore_uid=ignore_uid)
        if not free:
            return None

        def load(user_id: int) -> tuple[int, int]:
            day = start.date()
            count = sum(
                1
                for booking in self.bookings.values()
                if booking["hosts"][0]["id"] == user_id
                and booking["status"] in ("accepted", "pending")
                and parse_time(booking["start"]).date() == day
            )
            return count, user_id

        return self.users[min(free, key=load)]

    def is_free(
        self, event_type: StandinEventType, start: dt.datetime, *, ignore_uid: str | None = None
    ) -> bool:
        return bool(self.free_hosts(event_type, start, ignore_uid=ignore_uid))

    # --- bookings -----------------------------------------------------------------------

    def new_booking(
        self,
        event_type: StandinEventType,
        start: dt.datetime,
        attendee: dict[str, Any],
        *,
        host: StandinUser | None = None,
        metadata: dict[str, Any] | None = None,
        guests: list[str] | None = None,
        booking_fields: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        host = host or self.users[event_type.hosts[0] if event_type.hosts else OWNER_ID]
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
            "title": f"{event_type.title} between {host.name} and {attendee['name']}",
            "description": "",
            "hosts": [host.host_wire()],
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

    def wire_booking(self, booking: dict[str, Any]) -> dict[str, Any]:
        """The booking as Cal.com outputs it: a deleted host's fields all read "unknown"."""
        host = booking["hosts"][0]
        if host.get("id") in self.users:
            return booking
        gone = dict.fromkeys(("id", "name", "email", "username", "timeZone"), "unknown")
        return {**booking, "hosts": [gone]}

    def host_of(self, booking: dict[str, Any]) -> StandinUser | None:
        return self.users.get(booking["hosts"][0].get("id"))

    def touch(self, booking: dict[str, Any]) -> None:
        booking["updatedAt"] = wire_time(self.now())
