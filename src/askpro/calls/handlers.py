"""Retell call events → the calls table (registered with the webhook hub)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from askpro.calls import service
from askpro.models import WebhookEvent
from askpro.observability import get_logger
from askpro.outbound import service as outbound
from askpro.webhooks.registry import handles

log = get_logger(__name__)


@handles("retell", "call_started", "call_ended", "call_analyzed", "transcript_updated")
async def apply_call_event(session: AsyncSession, event: WebhookEvent) -> None:
    """Upsert the call; idempotent, order-independent, never erases stored data."""
    payload = event.payload()
    call = payload.get("call") or payload.get("data")  # `data` is Retell's deprecated name
    if not isinstance(call, dict) or not call.get("call_id"):
        log.warning("calls.event_without_call", event_id=event.id, event_type=event.event_type)
        return
    row = await service.upsert_from_event(session, event.event_type, call)
    outbound.record_call_event(session, event.event_type, row)
