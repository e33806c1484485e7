"""What the booking feature answers with: typed outcomes and the appointments API's models.

Every booking operation (and every agent tool) answers with a :class:`BookingResult`: an
:class:`Outcome`, the :class:`Rule` that decided it, the appointment and alternatives.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from askpro.kit.types import DatabaseId, Instant
from askpro.models.appointments import (
    AppointmentSource,
    AppointmentStatus,
    HistoryKind,
    SyncState,
)

__all__ = [
    "AppointmentSource",
    "AppointmentStatus",
    "HistoryKind",
    "SyncState",
]


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


class Rule(StrEnum):
    """Which rule decided an outcome (the ``reason`` of answers)."""

    # too_soon: inside the minimum notice.
    NOTICE = "minimum_notice"
    # outside_hours: beyond the booking horizon.
    HORIZON = "beyond_horizon"
    # outside_hours: no qualified staff member works then (their Cal.com schedule, or the
    # local opening hours when none is known).
    NOBODY_WORKING = "no_staff_working"
    # slot_taken: every qualified member who works then has a live appointment (or hold).
    STAFF_BOOKED = "staff_booked"
    # slot_taken: members work then, but their Cal.com calendars offer no slot (busy there).
    CALENDAR_BUSY = "calendar_busy"
    # slot_taken: Cal.com refused the booking when it was pushed (taken there meanwhile).
    CALCOM_CONFLICT = "calcom_conflict"
    # already_booked: Cal.com already held this very booking (a repeated push was linked).
    CALCOM_EXISTING = "calcom_existing"
    # rescheduled, not yet confirmed by Cal.com.
    CONFIRMATION_PENDING = "confirmation_pending"


@dataclass(frozen=True)
class Slot:
    start: dt.datetime
    end: dt.datetime
    staff_ids: tuple[int, ...]


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
    # Machine-readable reason within the outcome: a :class:`Rule` or a short code.
    reason: str | None = None
    # True when an earlier identical request produced this result (idempotent repeat).
    replayed: bool = False
    missing: list[str] = field(default_factory=list)


CANCELLED_STATUSES = ("cancelled", "rejected")


@dataclass(frozen=True)
class ExternalBooking:
    """What Cal.com says about one booking (a webhook or ``GET /v2/bookings``), normalised;
    the Cal.com sync builds it, booking's service applies it to the appointment book."""

    uid: str
    status: str  # accepted | pending | cancelled | rejected
    kind: str  # created | requested | rescheduled | cancelled | reconciled
    event_at: dt.datetime  # Cal.com's time of this state (ordering)
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    event_type_id: int | None = None
    from_uid: str | None = None  # this booking replaced from_uid (a reschedule)
    to_uid: str | None = None  # this booking was replaced by to_uid
    organizer_email: str | None = None
    organizer_id: int | None = None
    attendee_name: str | None = None
    attendee_email: str | None = None
    attendee_phone: str | None = None
    title: str | None = None
    reason: str | None = None
    actor: str = "calcom"
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def cancelled(self) -> bool:
        return self.status in CANCELLED_STATUSES

    @property
    def history_kind(self) -> HistoryKind:
        return HistoryKind(f"calcom.{self.kind}")


class AppointmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    company_id: int
    branch_id: int | None
    staff_id: int
    service_id: int
    customer_id: int | None
    call_id: int | None
    starts_at: dt.datetime
    ends_at: dt.datetime
    status: AppointmentStatus
    source: AppointmentSource
    calcom_booking_uid: str | None
    calcom_sync_state: SyncState
    cancellation_reason: str | None
    notes: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


Id = DatabaseId
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)


def _in_range(value: dt.datetime) -> dt.datetime:
    # Far-off instants would overflow date arithmetic (alternatives, day windows).
    if not EARLIEST <= value < LATEST:
        raise ValueError("must be between 2000 and 2200")
    return value


Start = Annotated[Instant, AfterValidator(_in_range)]
# A far-off Monday 10:00 in Berlin: the example is the shape, not a bookable time.
EXAMPLE_START = "2030-01-07T10:00:00+01:00"


class CustomerRef(BaseModel):
    """A customer by number: found, or created when new (merged customers resolve)."""

    model_config = ConfigDict(extra="forbid")

    phone: str = Field(min_length=3, max_length=40, description="Any format; matched as E.164.")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, min_length=3, max_length=320, pattern=r"^[^@\s]+@\S+$")


class AppointmentCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "service_id": 1,
                    "staff_id": None,
                    "branch_id": None,
                    "customer": {"phone": "+49 151 23456789", "name": "Lisa Weber"},
                    "starts_at": EXAMPLE_START,
                    "notes": "Booked by the front desk",
                }
            ],
            # What _one_customer checks, stated in the schema: exactly one is non-null.
            "oneOf": [
                {"required": ["customer_id"], "properties": {"customer_id": {"type": "integer"}}},
                {"required": ["customer"], "properties": {"customer": {"type": "object"}}},
            ],
        },
    )

    service_id: Id
    staff_id: Id | None = Field(default=None, description="Omit for any qualified staff.")
    branch_id: Id | None = None
    customer_id: Id | None = Field(default=None, description="Give this or customer.")
    customer: CustomerRef | None = Field(default=None, description="Give this or customer_id.")
    starts_at: Start = Field(description="ISO 8601 with offset.")
    notes: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _one_customer(self) -> AppointmentCreate:
        if (self.customer_id is None) == (self.customer is None):
            raise ValueError("give exactly one of customer_id and customer")
        return self


class RescheduleRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"starts_at": EXAMPLE_START}]}
    )

    starts_at: Start = Field(description="The new start, ISO 8601 with offset.")


class CancelRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "customer called to cancel"}]}
    )

    reason: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Why it is cancelled; stored and sent to Cal.com. Default: cancelled_via_api.",
    )


class AppointmentEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    actor: str
    channel: str
    changes: dict[str, Any]
    created_at: dt.datetime


class AppointmentDetail(AppointmentOut):
    history: list[AppointmentEventOut] = Field(description="Every change, oldest first.")


class AlternativeOut(BaseModel):
    starts_at: dt.datetime
    ends_at: dt.datetime
    staff_ids: list[int]
