"""One normalized view of a Cal.com booking, from a webhook body or from API v2.

Webhook payloads (PROTOCOLS §1.7.2) use ``startTime``/``endTime``, an ``organizer`` and
UPPER-case statuses; API v2 bookings use ``start``/``end``, ``hosts`` and lower case. The
sync logic only ever sees :class:`ExternalBooking`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from askpro.booking.schemas import ExternalBooking
from askpro.integrations.calcom.dtos import Booking
from askpro.kit.time import parse_instant

TRIGGER_KINDS = {
    "BOOKING_CREATED": "created",
    "BOOKING_REQUESTED": "requested",
    "BOOKING_RESCHEDULED": "rescheduled",
    "BOOKING_CANCELLED": "cancelled",
    "BOOKING_REJECTED": "cancelled",
}


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _response_value(responses: Any, *names: str) -> str | None:
    if not isinstance(responses, dict):
        return None
    for name in names:
        entry = responses.get(name)
        value = entry.get("value") if isinstance(entry, dict) else entry
        if isinstance(value, str) and value:
            return value
    return None


def from_webhook(trigger: str, body: dict[str, Any], received_at: dt.datetime) -> ExternalBooking:
    """The snapshot of a booking trigger's ``payload`` (``createdAt`` orders events)."""
    payload: dict[str, Any] = body.get("payload") or {}
    kind = TRIGGER_KINDS[trigger]
    status = str(payload.get("status") or "").lower()
    if kind == "cancelled":
        status = "rejected" if trigger == "BOOKING_REJECTED" else "cancelled"
    elif kind == "requested":
        status = "pending"
    elif status not in ("accepted", "pending"):
        status = "accepted"
    organizer = payload.get("organizer") or {}
    attendees = payload.get("attendees") or [{}]
    attendee = attendees[0] if isinstance(attendees[0], dict) else {}
    responses = payload.get("responses")
    metadata = payload.get("metadata")
    return ExternalBooking(
        uid=str(payload["uid"]),
        status=status,
        kind=kind,
        event_at=parse_instant(body.get("createdAt")) or received_at,
        start=parse_instant(payload.get("startTime")),
        end=parse_instant(payload.get("endTime")),
        event_type_id=_int(payload.get("eventTypeId")),
        from_uid=payload.get("rescheduleUid") if kind == "rescheduled" else None,
        organizer_email=organizer.get("email"),
        organizer_id=_int(organizer.get("id")),
        attendee_name=attendee.get("name") or _response_value(responses, "name"),
        attendee_email=attendee.get("email") or _response_value(responses, "email"),
        attendee_phone=attendee.get("phoneNumber")
        or _response_value(responses, "attendeePhoneNumber", "phone"),
        title=payload.get("title"),
        reason=payload.get("cancellationReason") or payload.get("rescheduleReason"),
        actor=str(payload.get("cancelledBy") or payload.get("rescheduledBy") or "calcom"),
        metadata=metadata if isinstance(metadata, dict) else {},
    )


def from_api(booking: Booking) -> ExternalBooking:
    """A booking listed by ``GET /v2/bookings`` (reconciliation); ``updatedAt`` orders it."""
    host = booking.hosts[0] if booking.hosts else None
    attendee = booking.attendees[0] if booking.attendees else None
    return ExternalBooking(
        uid=booking.uid,
        status=booking.status,
        kind="reconciled",
        event_at=booking.updated_at or booking.created_at or booking.start,
        start=booking.start,
        end=booking.end,
        event_type_id=booking.resolved_event_type_id,
        from_uid=booking.rescheduled_from_uid,
        to_uid=booking.rescheduled_to_uid,
        organizer_email=host.email if host else None,
        organizer_id=host.id if host else None,
        attendee_name=attendee.name if attendee else None,
        attendee_email=attendee.email if attendee else None,
        attendee_phone=attendee.phone_number if attendee else None,
        title=booking.title,
        reason=booking.cancellation_reason or booking.rescheduling_reason,
        actor="calcom:reconcile",
        metadata=dict(booking.metadata),
    )
