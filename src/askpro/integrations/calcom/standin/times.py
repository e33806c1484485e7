"""Times on the stand-in's wire (Cal.com's ISO forms) and its clock."""

from __future__ import annotations

import datetime as dt


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


class Clock:
    """The stand-in's clock: real time (a test may replace ``now`` on a state)."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)
