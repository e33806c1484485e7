"""One coroutine per agent tool; each returns the JSON answer the agent reads.

``check_availability`` is in ``_availability``, the tools that book and change the caller's
appointments in ``_appointments``, the message tools in ``_messages``; what the booking
tools share (local times, the service and staff the caller names) in ``_common``.
"""

from askpro.integrations.retell.tool_handlers._appointments import (
    book_appointment,
    cancel_appointment,
    find_appointments,
    reschedule_appointment,
)
from askpro.integrations.retell.tool_handlers._availability import check_availability
from askpro.integrations.retell.tool_handlers._common import NonexistentLocalTime, local_instant
from askpro.integrations.retell.tool_handlers._messages import request_callback, take_message

__all__ = [
    "NonexistentLocalTime",
    "book_appointment",
    "cancel_appointment",
    "check_availability",
    "find_appointments",
    "local_instant",
    "request_callback",
    "reschedule_appointment",
    "take_message",
]
