"""A logging handler for every event type the hub knows, so known events end ``processed``.

Business handlers (calls, bookings, billing) are registered by their own features; an
event type listed nowhere ends ``ignored``.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from askpro.models import WebhookEvent
from askpro.observability import get_logger
from askpro.webhooks.registry import handles

log = get_logger(__name__)

KNOWN_EVENT_TYPES: dict[str, tuple[str, ...]] = {
    # PROTOCOLS.md §3.2: the 8 voice events. Chat agents' chat_* events are deliberately
    # absent: askpro has no chat feature, so they are stored and end `ignored`.
    "retell": (
        "call_started",
        "call_ended",
        "call_analyzed",
        "transcript_updated",
        "transfer_started",
        "transfer_bridged",
        "transfer_cancelled",
        "transfer_ended",
    ),
    # PROTOCOLS.md §1.7.3 (Prisma enum WebhookTriggerEvents) + BOOKING_CONFIRMED + PING.
    "calcom": (
        "PING",
        "BOOKING_CREATED",
        "BOOKING_PAYMENT_INITIATED",
        "BOOKING_PAID",
        "BOOKING_RESCHEDULED",
        "BOOKING_REQUESTED",
        "BOOKING_CANCELLED",
        "BOOKING_REJECTED",
        "BOOKING_CONFIRMED",
        "BOOKING_NO_SHOW_UPDATED",
        "FORM_SUBMITTED",
        "MEETING_ENDED",
        "MEETING_STARTED",
        "RECORDING_READY",
        "INSTANT_MEETING",
        "RECORDING_TRANSCRIPTION_GENERATED",
        "OOO_CREATED",
        "AFTER_HOSTS_CAL_VIDEO_NO_SHOW",
        "AFTER_GUESTS_CAL_VIDEO_NO_SHOW",
        "FORM_SUBMITTED_NO_EVENT",
    ),
    # PROTOCOLS.md §4.4: what billing reads.
    "stripe": (
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "checkout.session.expired",
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "invoice.paid",
        "invoice.payment_succeeded",
        "invoice.payment_failed",
        "invoice.finalized",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "charge.succeeded",
        "charge.failed",
        "charge.refunded",
    ),
}


async def log_event(session: AsyncSession, event: WebhookEvent) -> None:
    """Record that the event was seen (ids only: bodies may hold personal data)."""
    log.info(
        "webhook.event",
        webhook_event_id=event.id,
        provider=event.provider,
        event_type=event.event_type,
        entity_key=event.entity_key,
        company_id=event.company_id,
        occurred_at=event.occurred_at.isoformat() if event.occurred_at else None,
    )


# Registered at import: this module is the first entry of registry.HANDLER_MODULES, so the
# logging handler always runs before the features' handlers.
for _provider, _event_types in KNOWN_EVENT_TYPES.items():
    handles(_provider, *_event_types)(log_event)
