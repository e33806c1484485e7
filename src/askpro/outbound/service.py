"""Use cases of outbound events: record an event, manage endpoints, replay deliveries.

:func:`record_event` is the one write path of the outbox: it adds the event row to the
caller's session, so the event commits or rolls back with the change it describes.
Appointment changes need no call at all: every history row booking writes for a booking,
a move, a cancellation or a failed calendar sync (``appointment_events``) writes its
``appointment.*`` event in the same statement, by the ``appointment_events_outbox`` trigger
(migration ``20261201_outbound``): no round trip is added to the booking path, and no
code path of booking can forget it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.config import Settings
from askpro.kit.crypto import SecretBox
from askpro.kit.pagination import PageRequest
from askpro.kit.problems import Problem
from askpro.kit.time import utc_now
from askpro.models import Call, OutboundEvent, WebhookEndpoint
from askpro.outbound import repository, signing
from askpro.outbound.schemas import (
    PAYLOAD_VERSION,
    PAYLOADS,
    AttemptOut,
    BillingPayload,
    CallPayload,
    CustomerMergedPayload,
    DeliveryDetail,
    DeliveryOut,
    DeliveryStatus,
    EndpointCreate,
    EndpointOut,
    EndpointUpdate,
    EndpointWithSecret,
    EventType,
    StalledEndpoint,
    StallReason,
)
from askpro.outbound.transport import TargetRefused, check_url

CALL_EVENTS: dict[str, EventType] = {
    "call_started": EventType.CALL_STARTED,
    "call_ended": EventType.CALL_ENDED,
    "call_analyzed": EventType.CALL_ANALYZED,
}


def new_message_id() -> str:
    """The stable ``webhook-id`` of one event (the same for every endpoint and attempt)."""
    return f"msg_{uuid.uuid4().hex}"


def _event_row(
    company_id: int, event_type: EventType, payload: BaseModel, ordering_key: str | None
) -> OutboundEvent:
    expected = PAYLOADS[event_type]
    if not isinstance(payload, expected):
        raise TypeError(f"{event_type} carries {expected.__name__}, not {type(payload).__name__}")
    return OutboundEvent(
        company_id=company_id,
        message_id=new_message_id(),
        type=event_type.value,
        version=PAYLOAD_VERSION,
        ordering_key=ordering_key,
        payload=payload.model_dump(mode="json"),
    )


def record_event(
    session: AsyncSession,
    company_id: int,
    event_type: EventType,
    payload: BaseModel,
    *,
    ordering_key: str | None = None,
) -> OutboundEvent:
    """Add the outbox row for ``event_type`` to ``session`` (no round trip of its own)."""
    row = _event_row(company_id, event_type, payload, ordering_key)
    session.add(row)
    return row


def record_call_event(session: AsyncSession, event_type: str, call: Call) -> None:
    """``call.started|ended|analyzed`` for a Retell event applied to a call of a company."""
    announced = CALL_EVENTS.get(event_type)
    if announced is None or call.company_id is None:
        return
    analysis = call.analysis or {}
    payload = CallPayload(
        call_id=call.call_id,
        direction=call.direction or "inbound",
        from_number=call.from_number,
        to_number=call.to_number,
        status=call.status or "unknown",
        started_at=call.started_at,
        ended_at=call.ended_at,
        duration_seconds=None if call.duration_ms is None else round(call.duration_ms / 1000),
        customer_id=call.customer_id,
        summary=call.summary,
        outcome=call.disconnection_reason
        if announced is EventType.CALL_ENDED
        else (str(analysis["call_successful"]) if "call_successful" in analysis else None),
    )
    record_event(session, call.company_id, announced, payload, ordering_key=f"call:{call.call_id}")


def record_customer_merge(
    session: AsyncSession, company_id: int, survivor_id: int, merged_ids: list[int]
) -> None:
    record_event(
        session,
        company_id,
        EventType.CUSTOMER_MERGED,
        CustomerMergedPayload(survivor_id=survivor_id, merged_ids=merged_ids),
        ordering_key=f"customer:{survivor_id}",
    )


# A balance falling below this (from at or above it) announces billing.low_balance.
LOW_BALANCE_CENTS = 1000


def record_billing_events(
    session: AsyncSession,
    company_id: int,
    *,
    kind: str,
    amount_cents: int,
    balance_cents: int,
    became_out_of_credit: bool,
) -> None:
    """The billing events one ledger entry causes (a top-up, a balance crossing a line)."""
    payload = BillingPayload(balance_cents=balance_cents, amount_cents=amount_cents)
    key = f"billing:{company_id}"
    if kind == "topup" and amount_cents > 0:
        record_event(
            session, company_id, EventType.BILLING_TOPUP_CREDITED, payload, ordering_key=key
        )
    previous = balance_cents - amount_cents
    if 0 < balance_cents < LOW_BALANCE_CENTS <= previous:
        record_event(session, company_id, EventType.BILLING_LOW_BALANCE, payload, ordering_key=key)
    if became_out_of_credit:
        record_event(
            session, company_id, EventType.BILLING_OUT_OF_CREDIT, payload, ordering_key=key
        )


# -- endpoints ----------------------------------------------------------------------------


def _invalid_url(error: TargetRefused) -> Problem:
    return Problem(
        422,
        "validation-error",
        "Invalid endpoint URL",
        f"url: {error}",
        errors=[{"field": "body.url", "location": "body", "message": str(error)}],
    )


def _not_found() -> Problem:
    return Problem(404, "not-found", "Webhook endpoint not found")


def _checked_url(url: str, settings: Settings) -> str:
    try:
        check_url(url, allow_local=settings.outbound_allow_local_targets)
    except TargetRefused as error:
        raise _invalid_url(error) from None
    return url


async def create_endpoint(
    session: AsyncSession, company_id: int, data: EndpointCreate, settings: Settings
) -> EndpointWithSecret:
    secret = signing.new_secret()
    endpoint = WebhookEndpoint(
        company_id=company_id,
        url=_checked_url(str(data.url), settings),
        description=data.description,
        event_types=sorted({event_type.value for event_type in data.event_types}),
        enabled=data.enabled,
        follow_redirects=data.follow_redirects,
        secret_encrypted=SecretBox(settings.secret_key.get_secret_value()).encrypt(secret),
    )
    session.add(endpoint)
    await session.flush()
    await session.refresh(endpoint)
    return EndpointWithSecret(**EndpointOut.model_validate(endpoint).model_dump(), secret=secret)


async def get_endpoint(session: AsyncSession, company_id: int, endpoint_id: int) -> WebhookEndpoint:
    endpoint = await repository.get_endpoint(session, company_id, endpoint_id)
    if endpoint is None:
        raise _not_found()
    return endpoint


async def page_endpoints(
    session: AsyncSession, company_id: int, page: PageRequest
) -> tuple[list[WebhookEndpoint], str | None]:
    return await repository.page_endpoints(session, company_id, page)


async def update_endpoint(
    session: AsyncSession,
    company_id: int,
    endpoint_id: int,
    data: EndpointUpdate,
    settings: Settings,
) -> WebhookEndpoint:
    endpoint = await repository.get_endpoint(session, company_id, endpoint_id, for_update=True)
    if endpoint is None:
        raise _not_found()
    if data.url is not None:
        endpoint.url = _checked_url(str(data.url), settings)
    if data.event_types is not None:
        endpoint.event_types = sorted({event_type.value for event_type in data.event_types})
    if "description" in data.model_fields_set:
        endpoint.description = data.description
    if data.follow_redirects is not None:
        endpoint.follow_redirects = data.follow_redirects
    if data.enabled is not None:
        endpoint.enabled = data.enabled
        if data.enabled:  # the company resumes it: start counting failures afresh
            endpoint.disabled_reason = endpoint.disabled_at = endpoint.failing_since = None
        else:
            endpoint.disabled_reason, endpoint.disabled_at = "by_company", utc_now()
    await session.flush()
    await session.refresh(endpoint)
    return endpoint


async def delete_endpoint(session: AsyncSession, company_id: int, endpoint_id: int) -> None:
    endpoint = await get_endpoint(session, company_id, endpoint_id)
    await session.delete(endpoint)
    await session.flush()


async def rotate_secret(
    session: AsyncSession,
    company_id: int,
    endpoint_id: int,
    overlap_seconds: int,
    settings: Settings,
) -> EndpointWithSecret:
    """A new secret; the current one keeps signing too for ``overlap_seconds``."""
    endpoint = await repository.get_endpoint(session, company_id, endpoint_id, for_update=True)
    if endpoint is None:
        raise _not_found()
    secret = signing.new_secret()
    box = SecretBox(settings.secret_key.get_secret_value())
    endpoint.previous_secret_encrypted = endpoint.secret_encrypted if overlap_seconds else None
    endpoint.previous_secret_expires_at = (
        utc_now() + dt.timedelta(seconds=overlap_seconds) if overlap_seconds else None
    )
    endpoint.secret_encrypted = box.encrypt(secret)
    await session.flush()
    await session.refresh(endpoint)
    return EndpointWithSecret(**EndpointOut.model_validate(endpoint).model_dump(), secret=secret)


def _stalled(endpoint: WebhookEndpoint, waiting: int) -> StalledEndpoint:
    if endpoint.enabled:
        reason, since = StallReason.RETRYING, endpoint.failing_since
    else:  # the query chose ``gone`` or ``failing``
        reason, since = StallReason(str(endpoint.disabled_reason)), endpoint.disabled_at
    return StalledEndpoint(
        endpoint_id=endpoint.id,
        url=endpoint.url,
        reason=reason,
        since=since or endpoint.updated_at,
        waiting=waiting,
    )


async def endpoints_not_delivering(session: AsyncSession, company_id: int) -> list[StalledEndpoint]:
    """The company's endpoints askpro switched off (410 Gone, failing too long) and those
    still enabled but failing since ``failing_since`` (retried, not yet off), with their
    waiting deliveries. One the company switched off itself is its choice, not listed."""
    reasons = [StallReason.GONE.value, StallReason.FAILING.value]
    rows = await repository.stalled_endpoints(session, company_id, reasons)
    return [_stalled(endpoint, waiting) for endpoint, waiting in rows]


def live_secrets(endpoint: WebhookEndpoint, box: SecretBox, now: dt.datetime) -> list[str]:
    """The secrets that sign now: the current one, and the previous one during the overlap."""
    secrets_ = [box.decrypt(endpoint.secret_encrypted)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_encrypted and expires is not None and expires > now:
        secrets_.append(box.decrypt(endpoint.previous_secret_encrypted))
    return secrets_


# -- deliveries ---------------------------------------------------------------------------


def delivery_out(row: repository.DeliveryRow) -> DeliveryOut:
    delivery, event = row
    return DeliveryOut(
        id=delivery.id,
        endpoint_id=delivery.endpoint_id,
        event_id=event.id,
        webhook_id=event.message_id,
        event_type=event.type,
        status=DeliveryStatus(delivery.status),
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at if delivery.status == "pending" else None,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        delivered_at=delivery.delivered_at,
        created_at=delivery.created_at,
    )


async def page_deliveries(
    session: AsyncSession,
    company_id: int,
    endpoint_id: int,
    page: PageRequest,
    *,
    status: DeliveryStatus | None,
) -> tuple[list[DeliveryOut], str | None]:
    await get_endpoint(session, company_id, endpoint_id)
    rows, cursor = await repository.page_deliveries(
        session, company_id, endpoint_id, page, status=status.value if status else None
    )
    return [delivery_out(row) for row in rows], cursor


async def get_delivery(
    session: AsyncSession, company_id: int, endpoint_id: int, delivery_id: int
) -> DeliveryDetail:
    row = await repository.get_delivery(session, company_id, endpoint_id, delivery_id)
    if row is None:
        raise Problem(404, "not-found", "Delivery not found")
    attempts = await repository.attempts_of(session, delivery_id)
    return DeliveryDetail(
        **delivery_out(row).model_dump(),
        payload=envelope(row[1]),
        attempt_log=[AttemptOut.model_validate(attempt) for attempt in attempts],
    )


async def replay(
    session: AsyncSession,
    company_id: int,
    endpoint_id: int,
    *,
    delivery_ids: list[int] | None = None,
    status: DeliveryStatus | None = None,
    since: dt.datetime | None = None,
    limit: int = 1000,
) -> list[int]:
    """Send deliveries again (same event, same ``webhook-id``); in-flight ones are skipped."""
    await get_endpoint(session, company_id, endpoint_id)
    return await repository.reset_deliveries(
        session,
        company_id,
        endpoint_id,
        delivery_ids=delivery_ids,
        status=status.value if status else None,
        since=since,
        limit=limit,
    )


def envelope(event: OutboundEvent) -> dict[str, Any]:
    """The JSON body every attempt of ``event`` sends (identical across attempts)."""
    return {
        "id": event.message_id,
        "type": event.type,
        "version": event.version,
        "timestamp": event.created_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "company_id": event.company_id,
        "data": event.payload,
    }
