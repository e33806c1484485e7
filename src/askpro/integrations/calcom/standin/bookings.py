"""Bookings as Cal.com outputs them: made for an event type's host (the assigned one is
``hosts[0]``), a deleted host's fields reading "unknown"."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from askpro.integrations.calcom.standin.accounts import OWNER_ID, StandinEventType, StandinUser
from askpro.integrations.calcom.standin.times import Clock, wire_time


class Bookings(Clock):
    """The bookings part of :class:`~askpro.integrations.calcom.standin.state.StandinState`."""

    users: dict[int, StandinUser]
    bookings: dict[str, dict[str, Any]]
    _next_booking_id: int

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
