"""Typed Cal.com API v2 request and response bodies.

Responses tolerate unknown fields (Cal.com adds fields without notice); a missing required
field is a :class:`pydantic.ValidationError` that the client turns into
``CalcomMalformedResponseError``. Field names are snake_case in Python and camelCase on the
wire (the OpenAPI document's names).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
)
from pydantic.alias_generators import to_camel

# "accepted", "pending", "cancelled" or "rejected" today; kept open so a status Cal.com adds
# later does not make every booking unreadable.
BookingStatus = str


def utc_wire(value: dt.datetime) -> str:
    """Cal.com wants UTC instants as ``YYYY-MM-DDTHH:MM:SSZ`` ("The start needs to be in UTC")."""
    if value.tzinfo is None:
        raise ValueError("Cal.com times must be timezone-aware")
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class CalcomModel(BaseModel):
    model_config = ConfigDict(
        extra="ignore", populate_by_name=True, alias_generator=to_camel, frozen=True
    )


# --- responses -------------------------------------------------------------------------


class EventTypeHost(CalcomModel):
    user_id: int
    name: str | None = None
    username: str | None = None


class EventType(CalcomModel):
    id: int
    title: str
    slug: str
    length_in_minutes: int
    description: str | None = None
    length_in_minutes_options: list[int] | None = None
    slot_interval: int | None = None
    minimum_booking_notice: int = 0
    before_event_buffer: int = 0
    after_event_buffer: int = 0
    schedule_id: int | None = None
    owner_id: int | None = None
    hidden: bool = False
    metadata: dict[str, Any] = Field(default_factory=dict)
    # Team event types only: the team, "roundRobin" | "collective" | "managed", and hosts.
    team_id: int | None = None
    scheduling_type: str | None = None
    hosts: list[EventTypeHost] = Field(default_factory=list)


class ScheduleAvailability(CalcomModel):
    days: list[str]
    start_time: str
    end_time: str


class ScheduleOverride(CalcomModel):
    date: dt.date
    start_time: str
    end_time: str


class Schedule(CalcomModel):
    id: int
    owner_id: int
    name: str
    time_zone: str
    is_default: bool
    availability: list[ScheduleAvailability]
    overrides: list[ScheduleOverride] = Field(default_factory=list)


class Slot(CalcomModel):
    """One bookable start (``end`` only with ``format=range``)."""

    start: AwareDatetime
    end: AwareDatetime | None = None
    attendees_count: int | None = None
    booking_uid: str | None = None


class Reservation(CalcomModel):
    event_type_id: int
    slot_start: AwareDatetime
    slot_end: AwareDatetime
    slot_duration: int
    reservation_uid: str
    reservation_duration: int
    reservation_until: AwareDatetime


# CreateBookingAttendee.language's enum in calcom-v2-openapi.json: the only values Cal.com
# accepts; anything else fails the whole booking with 400.
ATTENDEE_LANGUAGES = frozenset(
    [
        "ar",
        "ca",
        "de",
        "es",
        "eu",
        "he",
        "id",
        "ja",
        "lv",
        "pl",
        "ro",
        "sr",
        "th",
        "vi",
        "az",
        "cs",
        "el",
        "es-419",
        "fi",
        "hr",
        "it",
        "km",
        "nl",
        "pt",
        "ru",
        "sv",
        "tr",
        "zh-CN",
        "bg",
        "da",
        "en",
        "et",
        "fr",
        "hu",
        "iw",
        "ko",
        "no",
        "pt-BR",
        "sk",
        "ta",
        "uk",
        "zh-TW",
        "bn",
    ]
)


def attendee_language(locale: str | None) -> str | None:
    """A locale as Cal.com accepts it: ``de-DE`` → ``de``, ``pt_BR`` → ``pt-BR``, unknown →
    ``None`` (omitted, so Cal.com's default applies)."""
    if not locale:
        return None
    text = locale.strip().replace("_", "-")
    by_lower = {value.lower(): value for value in ATTENDEE_LANGUAGES}
    exact = by_lower.get(text.lower())
    if exact is not None:
        return exact
    return by_lower.get(text.split("-")[0].lower())


def _unknown_as_none(value: Any) -> Any:
    # Cal.com fills every host field with "unknown" when the user no longer exists.
    return None if value == "unknown" else value


class Host(CalcomModel):
    """``hosts[0]`` of a booking. Cal.com sends ``name: null`` for users without a name and
    ``"unknown"`` in every field (also ``id``) when the user was deleted: both are valid."""

    id: int | None = None
    name: str | None = None
    email: str | None = None
    username: str | None = None
    time_zone: str | None = None

    _unknown = field_validator("id", "name", "email", "username", "time_zone", mode="before")(
        _unknown_as_none
    )


class Attendee(CalcomModel):
    name: str
    email: str | None = None
    time_zone: str
    language: str | None = None
    absent: bool = False
    phone_number: str | None = None


class BookingEventType(CalcomModel):
    id: int
    slug: str | None = None


class Booking(CalcomModel):
    id: int
    uid: str
    title: str
    status: BookingStatus
    start: AwareDatetime
    end: AwareDatetime
    duration: int
    description: str | None = None
    event_type_id: int | None = None
    event_type: BookingEventType | None = None
    hosts: list[Host] = Field(default_factory=list)
    attendees: list[Attendee] = Field(default_factory=list)
    guests: list[str] = Field(default_factory=list)
    location: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    booking_fields_responses: dict[str, Any] = Field(default_factory=dict)
    absent_host: bool = False
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    cancellation_reason: str | None = None
    cancelled_by_email: str | None = None
    rescheduling_reason: str | None = None
    rescheduled_by_email: str | None = None
    rescheduled_from_uid: str | None = None
    rescheduled_to_uid: str | None = None

    @property
    def resolved_event_type_id(self) -> int | None:
        """``eventType.id`` (``eventTypeId`` is deprecated upstream but still sent)."""
        return self.event_type.id if self.event_type is not None else self.event_type_id


class Pagination(CalcomModel):
    total_items: int
    remaining_items: int
    returned_items: int
    items_per_page: int
    current_page: int
    total_pages: int
    has_next_page: bool
    has_previous_page: bool


class BookingPage(CalcomModel):
    bookings: list[Booking]
    pagination: Pagination


class Me(CalcomModel):
    id: int
    username: str | None = None
    email: str
    time_zone: str | None = None
    default_schedule_id: int | None = None
    organization_id: int | None = None


# --- requests --------------------------------------------------------------------------


class RequestModel(CalcomModel):
    """A request body; ``to_wire()`` is exactly what is sent (camelCase, no nulls)."""

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class CreateBookingAttendee(RequestModel):
    name: str = Field(min_length=1)
    time_zone: str
    email: str | None = None
    phone_number: str | None = None
    # Normalised to what Cal.com accepts (see attendee_language); unknown ones are omitted.
    language: str | None = None

    _language = field_validator("language", mode="before")(attendee_language)


class CreateBookingRequest(RequestModel):
    start: AwareDatetime
    event_type_id: int
    attendee: CreateBookingAttendee
    length_in_minutes: int | None = None
    guests: list[str] | None = None
    location: dict[str, Any] | None = None
    # Cal.com limits: at most 50 keys, key <= 40 chars, string values <= 500 chars.
    metadata: dict[str, str] | None = None
    booking_fields_responses: dict[str, Any] | None = None

    @field_serializer("start")
    def _start_utc(self, value: dt.datetime) -> str:
        return utc_wire(value)


class RescheduleBookingRequest(RequestModel):
    start: AwareDatetime
    rescheduled_by: str | None = None
    rescheduling_reason: str | None = None

    @field_serializer("start")
    def _start_utc(self, value: dt.datetime) -> str:
        return utc_wire(value)


class CancelBookingRequest(RequestModel):
    cancellation_reason: str | None = None


class ReserveSlotRequest(RequestModel):
    event_type_id: int
    slot_start: AwareDatetime
    slot_duration: int | None = None
    reservation_duration: int | None = None

    @field_serializer("slot_start")
    def _slot_start_utc(self, value: dt.datetime) -> str:
        return utc_wire(value)
