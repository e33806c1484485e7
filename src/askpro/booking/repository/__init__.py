"""Every query of the booking feature; tenant-scoped (``company_id`` first), never commits.

The history builder (:func:`history`), the overlap check (:func:`busy_ranges`) and the
buffered range (:func:`buffered_range`) exist once, here: every write path uses them. The
company's service, branch and staff are read in ``_context``, live appointments and the
time they block in ``_live``, single appointments and the API's list in ``_appointments``,
the history rows in ``_history``.
"""

from askpro.booking.repository._appointments import (
    APPOINTMENT_LIST,
    by_idempotency_key,
    get_appointment,
    list_appointments,
    locked,
    pending_sync_ids,
    transfer_customer,
    upcoming_of_customer,
    view,
)
from askpro.booking.repository._context import (
    company_service_branch,
    event_type_for,
    qualified_staff,
    staff_by_calcom_user,
)
from askpro.booking.repository._history import (
    first_booking_event,
    history,
    history_of,
    move_history,
)
from askpro.booking.repository._live import (
    booked_counts,
    buffered_range,
    busy_ranges,
    expire_holds,
    is_overlap_violation,
    overlaps,
    own_hold,
    release_call_holds,
)

__all__ = [
    "APPOINTMENT_LIST",
    "booked_counts",
    "buffered_range",
    "busy_ranges",
    "by_idempotency_key",
    "company_service_branch",
    "event_type_for",
    "expire_holds",
    "first_booking_event",
    "get_appointment",
    "history",
    "history_of",
    "is_overlap_violation",
    "list_appointments",
    "locked",
    "move_history",
    "overlaps",
    "own_hold",
    "pending_sync_ids",
    "qualified_staff",
    "release_call_holds",
    "staff_by_calcom_user",
    "transfer_customer",
    "upcoming_of_customer",
    "view",
]
