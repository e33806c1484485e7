"""What a Cal.com account holds: its users, each with a schedule (wall-clock hours in the
schedule's time zone, day overrides), and its event types, individual (one owner's
calendar) or team round-robin (shared by hosts)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
OWNER_ID = 1


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
