"""Event types, their versioned payloads, and the API's endpoint/delivery/message models.

Each payload model is the contract of one event type at one version; its JSON Schema is
published in ``docs/outbound-events.md`` (a test keeps the page and these models equal).
Payloads carry ids and facts, never secrets or tokens.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, StrictBool, UrlConstraints

# The column holds 2000 characters; the normalised URL may gain a character or two ("/").
EndpointUrl = Annotated[HttpUrl, UrlConstraints(max_length=1990)]


class EventType(StrEnum):
    APPOINTMENT_BOOKED = "appointment.booked"
    APPOINTMENT_RESCHEDULED = "appointment.rescheduled"
    APPOINTMENT_CANCELLED = "appointment.cancelled"
    APPOINTMENT_SYNC_FAILED = "appointment.sync_failed"
    CALL_STARTED = "call.started"
    CALL_ENDED = "call.ended"
    CALL_ANALYZED = "call.analyzed"
    MESSAGE_TAKEN = "message.taken"
    CALLBACK_REQUESTED = "callback.requested"
    CUSTOMER_MERGED = "customer.merged"
    BILLING_LOW_BALANCE = "billing.low_balance"
    BILLING_OUT_OF_CREDIT = "billing.out_of_credit"
    BILLING_TOPUP_CREDITED = "billing.topup_credited"


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its (next) attempt
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # every attempt of the retry schedule failed
    CANCELLED = "cancelled"


class DisabledReason(StrEnum):
    GONE = "gone"  # the receiver answered 410 Gone
    FAILING = "failing"  # every delivery failed for longer than the disable period
    BY_COMPANY = "by_company"


class StallReason(StrEnum):
    """Why an endpoint is not delivering (the first two: askpro switched it off)."""

    GONE = DisabledReason.GONE.value
    FAILING = DisabledReason.FAILING.value
    RETRYING = "retrying"  # still enabled, every attempt since ``failing_since`` failed


class MessageKind(StrEnum):
    MESSAGE = "message"
    CALLBACK = "callback"


class Urgency(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


class MessageStatus(StrEnum):
    OPEN = "open"
    DONE = "done"


# -- payloads (version 1) ---------------------------------------------------------------


# The version every payload is sent with; a breaking change adds a new version.
PAYLOAD_VERSION = 1


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AppointmentPayload(Payload):
    """``appointment.*``: the appointment as it is after the change, and what changed."""

    appointment_id: int
    status: str
    start: dt.datetime
    end: dt.datetime
    staff_id: int
    service_id: int
    customer_id: int | None
    branch_id: int | None
    source: str
    calcom_sync_state: str
    cancellation_reason: str | None = None
    actor_channel: str = Field(description="Where the change came from: phone, api, system …")
    changes: dict[str, Any] = Field(default_factory=dict)


class CallPayload(Payload):
    """``call.*``: the call after the Retell event (summary and outcome once ended/analysed)."""

    call_id: str = Field(description="Retell's call id.")
    direction: str
    from_number: str | None
    to_number: str | None
    status: str
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    duration_seconds: int | None
    customer_id: int | None
    summary: str | None = None
    outcome: str | None = None


class MessagePayload(Payload):
    """``message.taken`` and ``callback.requested``: what the caller left."""

    message_id: int
    kind: MessageKind
    call_id: str | None
    customer_id: int | None
    caller_name: str | None
    caller_number: str | None
    message: str | None
    urgency: Urgency
    callback_window: str | None


class CustomerMergedPayload(Payload):
    survivor_id: int
    merged_ids: list[int]


class BillingPayload(Payload):
    """``billing.*``: the balance after the ledger entry that caused the event."""

    balance_cents: int
    amount_cents: int | None = None


PAYLOADS: dict[EventType, type[Payload]] = {
    EventType.APPOINTMENT_BOOKED: AppointmentPayload,
    EventType.APPOINTMENT_RESCHEDULED: AppointmentPayload,
    EventType.APPOINTMENT_CANCELLED: AppointmentPayload,
    EventType.APPOINTMENT_SYNC_FAILED: AppointmentPayload,
    EventType.CALL_STARTED: CallPayload,
    EventType.CALL_ENDED: CallPayload,
    EventType.CALL_ANALYZED: CallPayload,
    EventType.MESSAGE_TAKEN: MessagePayload,
    EventType.CALLBACK_REQUESTED: MessagePayload,
    EventType.CUSTOMER_MERGED: CustomerMergedPayload,
    EventType.BILLING_LOW_BALANCE: BillingPayload,
    EventType.BILLING_OUT_OF_CREDIT: BillingPayload,
    EventType.BILLING_TOPUP_CREDITED: BillingPayload,
}


# -- API ----------------------------------------------------------------------------------

EventTypes = Field(
    min_length=1,
    max_length=len(EventType),
    description="The event types delivered to this endpoint.",
)


class EndpointCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://crm.example.com/hooks/askpro",
                    "event_types": ["appointment.booked", "message.taken"],
                    "description": "Salon CRM",
                }
            ]
        },
    )

    url: EndpointUrl = Field(description="https:// outside demo/test mode; public addresses only.")
    event_types: list[EventType] = EventTypes
    description: str | None = Field(default=None, max_length=500)
    # Strict: the document says boolean, so 0/1 and "true" are refused, not coerced.
    enabled: StrictBool = True
    follow_redirects: StrictBool = Field(
        default=False, description="Follow up to 3 redirects (each target checked again)."
    )


class EndpointUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"description": "Salon CRM (new)"}]}
    )

    url: EndpointUrl | None = None
    event_types: list[EventType] | None = Field(default=None, min_length=1)
    description: str | None = Field(default=None, max_length=500)
    enabled: StrictBool | None = Field(
        default=None, description="true re-enables an endpoint askpro disabled."
    )
    follow_redirects: StrictBool | None = None


class SecretRotation(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"overlap_seconds": 86400}]}
    )

    overlap_seconds: int = Field(
        default=86400,
        ge=0,
        le=7 * 86400,
        description="How long the old secret keeps signing next to the new one.",
    )


class EndpointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    company_id: int
    url: str
    description: str | None
    event_types: list[str]
    enabled: bool
    follow_redirects: bool
    disabled_reason: DisabledReason | None = Field(
        description="Set when askpro switched the endpoint off; PATCH enabled=true resumes."
    )
    disabled_at: dt.datetime | None
    failing_since: dt.datetime | None
    last_success_at: dt.datetime | None
    previous_secret_expires_at: dt.datetime | None
    created_at: dt.datetime


class StalledEndpoint(BaseModel):
    """An endpoint that is not delivering, and how many deliveries wait for it."""

    endpoint_id: int
    url: str = Field(description="As the company registered it: untrusted text.")
    reason: StallReason
    since: dt.datetime = Field(description="Switched off at, or failing since (retrying).")
    waiting: int = Field(description="Its pending deliveries.")


class EndpointWithSecret(EndpointOut):
    secret: str = Field(description="The signing secret (whsec_…), shown only in this answer.")


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt: int
    status_code: int | None
    latency_ms: int
    response_snippet: str | None
    error: str | None
    created_at: dt.datetime


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    endpoint_id: int
    event_id: int
    webhook_id: str = Field(description="The webhook-id header: the same on every attempt.")
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: dt.datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: dt.datetime | None
    created_at: dt.datetime


class DeliveryDetail(DeliveryOut):
    payload: dict[str, Any] = Field(description="The body as sent.")
    attempt_log: list[AttemptOut]


class ReplayFilter(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"status": "failed", "since": "2026-12-01T00:00:00Z"}]},
    )

    status: DeliveryStatus = DeliveryStatus.FAILED
    since: dt.datetime | None = Field(default=None, description="Created at or after.")
    limit: int = Field(default=1000, ge=1, le=1000)


class ReplayOut(BaseModel):
    count: int
    delivery_ids: list[int]


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    company_id: int
    kind: MessageKind
    call_id: int | None
    customer_id: int | None
    caller_name: str | None
    caller_number: str | None
    body: str | None = Field(description="The message in the caller's words.")
    urgency: Urgency
    callback_window: str | None
    status: MessageStatus
    created_at: dt.datetime


class MessageUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"status": "done"}]})

    status: MessageStatus
