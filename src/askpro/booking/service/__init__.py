"""The booking feature's use cases: availability, hold, book, reschedule, cancel, the API's
appointment use cases, what Cal.com reported, and the Cal.com sync outbox.

The appointment book (``appointments``, ``appointment_events``, appointment-linked
customers) is written only through these functions.
"""

from askpro.booking.service._api import (
    API_CANCEL_REASON,
    Caller,
    cancel_appointment,
    create_appointment,
    not_found,
    reschedule_appointment,
)
from askpro.booking.service._availability import (
    alternatives,
    calendar_starts,
    free_slots,
    nearest,
    subtract_local,
    verdict,
    working_staff,
)
from askpro.booking.service._book import book
from askpro.booking.service._changes import ChangeRequest, cancel, reschedule
from askpro.booking.service._check import BookRequest, check_time
from askpro.booking.service._context import (
    BookingContext,
    ContextError,
    StaffCalendar,
    load_context,
)
from askpro.booking.service._external import (
    cancel_external,
    mark_no_show,
    merge_external,
    move_external,
    record_external_booking,
    update_external,
)
from askpro.booking.service._hold import HOLD_MINUTES, hold
from askpro.booking.service._reads import (
    expire_holds,
    pending_ids,
    transfer_customer,
    upcoming,
    view,
)
from askpro.booking.service._sync import (
    DEFAULT_BUDGET_SECONDS,
    SYNC_TASK,
    SyncOutcome,
    SyncPending,
    push,
    push_within_budget,
)

__all__ = [
    "API_CANCEL_REASON",
    "DEFAULT_BUDGET_SECONDS",
    "HOLD_MINUTES",
    "SYNC_TASK",
    "BookRequest",
    "BookingContext",
    "Caller",
    "ChangeRequest",
    "ContextError",
    "StaffCalendar",
    "SyncOutcome",
    "SyncPending",
    "alternatives",
    "book",
    "calendar_starts",
    "cancel",
    "cancel_appointment",
    "cancel_external",
    "check_time",
    "create_appointment",
    "expire_holds",
    "free_slots",
    "hold",
    "load_context",
    "mark_no_show",
    "merge_external",
    "move_external",
    "nearest",
    "not_found",
    "pending_ids",
    "push",
    "push_within_budget",
    "record_external_booking",
    "reschedule",
    "reschedule_appointment",
    "subtract_local",
    "transfer_customer",
    "upcoming",
    "update_external",
    "verdict",
    "view",
    "working_staff",
]
