"""State of the Cal.com stand-in: users with their own schedules and calendars, individual
and team round-robin event types, bookings, faults; optionally persisted to a JSON file.

The parts live by topic and are all importable from here: the account's users, schedules
and event types in ``accounts``, the demo salon's in ``demo``, the failure knobs and the
request log in ``faults``, availability as Cal.com computes it in ``slots`` (``Slots``),
bookings as Cal.com outputs them in ``bookings`` (``Bookings``), wire times and the
clock in ``times``. :class:`StandinState` holds them together.

With ``persist_path`` set, bookings and reservations are written to that file after every
change and read back at start, so a restarted ``askpro serve`` still knows them.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from askpro.integrations.calcom.standin.accounts import (
    OWNER_ID,
    WEEKDAYS,
    StandinEventType,
    StandinSchedule,
    StandinUser,
)
from askpro.integrations.calcom.standin.bookings import Bookings
from askpro.integrations.calcom.standin.demo import (
    DEMO_SERVICES,
    DEMO_TEAM_ID,
    STYLISTS,
    demo_event_types,
    demo_users,
)
from askpro.integrations.calcom.standin.faults import Faults, RecordedRequest
from askpro.integrations.calcom.standin.slots import Slots
from askpro.integrations.calcom.standin.times import parse_time, wire_time

__all__ = [
    "DEMO_SERVICES",
    "DEMO_TEAM_ID",
    "OWNER_ID",
    "STANDIN_API_KEY",
    "STYLISTS",
    "WEEKDAYS",
    "Faults",
    "RecordedRequest",
    "StandinEventType",
    "StandinSchedule",
    "StandinState",
    "StandinUser",
    "demo_event_types",
    "demo_users",
    "parse_time",
    "wire_time",
]

STANDIN_API_KEY = "cal_test_askpro_standin"


@dataclass
class StandinState(Slots, Bookings):
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

    def key_valid(self, key: str) -> bool:
        return key in self.api_keys or (self.accept_any_cal_key and key.startswith("cal_"))
