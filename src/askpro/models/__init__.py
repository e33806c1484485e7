"""SQLAlchemy models, one module per table group; importing this package registers them all."""

from askpro.kit.base import Base
from askpro.models.appointments import Appointment, AppointmentEvent
from askpro.models.audit import AuditLog
from askpro.models.auth import ApiToken
from askpro.models.billing import BillingAccount, Invoice, LedgerEntry, Payment, Subscription
from askpro.models.booking import CustomerMerge, ToolCallAnswer
from askpro.models.calcom import CalcomBooking, CalcomSyncCursor
from askpro.models.calls import Call
from askpro.models.customers import Customer
from askpro.models.dashboard import DashboardSession
from askpro.models.outbound import (
    CallerMessage,
    DeliveryAttempt,
    OutboundDelivery,
    OutboundEvent,
    WebhookEndpoint,
)
from askpro.models.tenancy import Branch, Company, PhoneNumber, Service, Staff, StaffService
from askpro.models.webhooks import WebhookEvent

__all__ = [
    "ApiToken",
    "Appointment",
    "AppointmentEvent",
    "AuditLog",
    "Base",
    "BillingAccount",
    "Branch",
    "CalcomBooking",
    "CalcomSyncCursor",
    "Call",
    "CallerMessage",
    "Company",
    "Customer",
    "CustomerMerge",
    "DashboardSession",
    "DeliveryAttempt",
    "Invoice",
    "LedgerEntry",
    "OutboundDelivery",
    "OutboundEvent",
    "Payment",
    "PhoneNumber",
    "Service",
    "Staff",
    "StaffService",
    "Subscription",
    "ToolCallAnswer",
    "WebhookEndpoint",
    "WebhookEvent",
]
