"""SQLAlchemy models, one module per table group; importing this package registers them all."""

from askpro.kit.base import Base
from askpro.models.appointments import Appointment, AppointmentEvent
from askpro.models.auth import ApiToken
from askpro.models.booking import CustomerMerge, ToolCallAnswer
from askpro.models.calcom import CalcomBooking, CalcomSyncCursor
from askpro.models.calls import Call
from askpro.models.customers import Customer
from askpro.models.tenancy import Branch, Company, PhoneNumber, Service, Staff, StaffService
from askpro.models.webhooks import WebhookEvent

__all__ = [
    "ApiToken",
    "Appointment",
    "AppointmentEvent",
    "Base",
    "Branch",
    "CalcomBooking",
    "CalcomSyncCursor",
    "Call",
    "Company",
    "Customer",
    "CustomerMerge",
    "PhoneNumber",
    "Service",
    "Staff",
    "StaffService",
    "ToolCallAnswer",
    "WebhookEvent",
]
