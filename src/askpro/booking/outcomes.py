"""The typed outcomes every booking operation (and every agent tool) answers with."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from askpro.booking.availability import Slot


class Outcome(StrEnum):
    AVAILABLE = "available"
    BOOKED = "booked"
    ALREADY_BOOKED = "already_booked"
    SLOT_TAKEN = "slot_taken"
    TOO_SOON = "too_soon"
    OUTSIDE_HOURS = "outside_hours"
    NOT_FOUND = "not_found"
    CANCELLED = "cancelled"
    RESCHEDULED = "rescheduled"
    PENDING_CONFIRMATION = "pending_confirmation"
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"
    INVALID_REQUEST = "invalid_request"


@dataclass(frozen=True)
class AppointmentView:
    """What callers and the agent need to know about one appointment."""

    id: int
    start: dt.datetime
    end: dt.datetime
    status: str
    staff_id: int
    staff_name: str
    service_id: int
    service_name: str
    calcom_sync_state: str
    calcom_booking_uid: str | None
    cancellation_reason: str | None = None


@dataclass
class BookingResult:
    outcome: Outcome
    time_zone: str = "Europe/Berlin"
    appointment: AppointmentView | None = None
    alternatives: list[Slot] = field(default_factory=list)
    # Machine-readable reason within the outcome, e.g. "calcom_conflict", "beyond_horizon".
    reason: str | None = None
    # True when an earlier identical request produced this result (idempotent repeat).
    replayed: bool = False
    missing: list[str] = field(default_factory=list)
