"""Every query of the dashboard: its sessions and the read-only views of the pages.

Read-only over the other features' tables (their services own the writes); every query of a
company's data filters ``company_id`` first. Webhook events are read through the webhooks
service, not here. The sessions are in ``_sessions``, today's figures and the charts'
series in ``_figures``, the lists and detail rows of the pages in ``_records``.
"""

from askpro.ops.dashboard.repository._figures import (
    CallFigures,
    bookings_per_day,
    call_figures,
    calls_per_day,
    failing_webhooks,
    messages_taken,
    pending_syncs,
    phone_bookings,
    webhooks_per_hour,
)
from askpro.ops.dashboard.repository._records import (
    appointment,
    appointment_history,
    appointments_between,
    appointments_changed_in_call,
    appointments_of,
    branches,
    call,
    call_charge,
    customer,
    jobs_of_event,
    page_calls,
    page_customers,
    staff_of_branch,
)
from askpro.ops.dashboard.repository._sessions import (
    add_session,
    choose_company,
    companies,
    company,
    delete_expired_sessions,
    delete_session,
    session_with_token,
)

__all__ = [
    "CallFigures",
    "add_session",
    "appointment",
    "appointment_history",
    "appointments_between",
    "appointments_changed_in_call",
    "appointments_of",
    "bookings_per_day",
    "branches",
    "call",
    "call_charge",
    "call_figures",
    "calls_per_day",
    "choose_company",
    "companies",
    "company",
    "customer",
    "delete_expired_sessions",
    "delete_session",
    "failing_webhooks",
    "jobs_of_event",
    "messages_taken",
    "page_calls",
    "page_customers",
    "pending_syncs",
    "phone_bookings",
    "session_with_token",
    "staff_of_branch",
    "webhooks_per_hour",
]
