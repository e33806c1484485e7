"""Availability as Cal.com computes it: a user's schedule hours are wall-clock times in
the schedule's time zone, slots step by the event type's length, and a booking of a user
blocks overlapping slots of every event type that user hosts (buffers included). A
round-robin team event type offers a start when at least one host is free then, and a
booking of it is assigned to the free host with the fewest bookings that day (then the
lowest id)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from askpro.integrations.calcom.standin.accounts import StandinEventType, StandinUser
from askpro.integrations.calcom.standin.times import Clock, parse_time


class Slots(Clock):
    """The availability part of :class:`~askpro.integrations.calcom.standin.state.StandinState`."""

    users: dict[int, StandinUser]
    event_types: dict[int, StandinEventType]
    bookings: dict[str, dict[str, Any]]
    reservations: dict[str, dict[str, Any]]

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
