"""Handlers of Cal.com webhook events (registered with the webhook hub's registry).

They run inside the processing job's transaction, are idempotent, and never let an older
event overwrite newer state (see :mod:`askpro.integrations.calcom.sync.apply`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from askpro.booking import service as booking
from askpro.integrations.calcom.sync import repository
from askpro.integrations.calcom.sync.apply import apply_snapshot
from askpro.integrations.calcom.sync.snapshot import TRIGGER_KINDS, from_webhook
from askpro.kit.time import parse_instant
from askpro.models import CalcomBooking, Company, WebhookEvent
from askpro.observability import get_logger
from askpro.webhooks.registry import handles

log = get_logger(__name__)


def _body(event: WebhookEvent) -> dict[str, Any]:
    body = event.payload()
    if not isinstance(body, dict):
        raise ValueError(f"Cal.com webhook {event.id} is not a JSON object")
    return body


async def resolve_company(
    session: AsyncSession,
    event: WebhookEvent,
    *,
    uids: list[str],
    event_type_id: int | None,
) -> Company | None:
    """The event's company: as stored by the inbox, else by known uid, else by event type."""
    if event.company_id is not None:
        return await session.get(Company, event.company_id)
    candidates: set[int] = set()
    for uid in uids:
        candidates |= await repository.company_ids_for_uid(session, uid)
    if not candidates and event_type_id is not None:
        candidates = await repository.company_ids_for_event_type(session, event_type_id)
    if len(candidates) != 1:
        log.warning(
            "calcom.sync_company_unresolved",
            webhook_event_id=event.id,
            event_type_id=event_type_id,
            candidates=sorted(candidates),
        )
        return None
    return await session.get(Company, candidates.pop())


@handles("calcom", *TRIGGER_KINDS)
async def sync_booking_event(session: AsyncSession, event: WebhookEvent) -> None:
    body = _body(event)
    trigger = str(body.get("triggerEvent") or event.event_type)
    payload = body.get("payload") or {}
    if trigger not in TRIGGER_KINDS or not payload.get("uid"):
        log.warning("calcom.sync_unusable_event", webhook_event_id=event.id, trigger=trigger)
        return
    snapshot = from_webhook(trigger, body, dt.datetime.now(dt.UTC))
    uids = [uid for uid in (snapshot.uid, snapshot.from_uid) if uid]
    company = await resolve_company(session, event, uids=uids, event_type_id=snapshot.event_type_id)
    if company is None:
        return
    appointment = await apply_snapshot(session, company, snapshot)
    log.info(
        "calcom.sync_applied",
        trigger=trigger,
        uid=snapshot.uid,
        company_id=company.id,
        appointment_id=appointment.id if appointment else None,
    )


@handles("calcom", "BOOKING_NO_SHOW_UPDATED")
async def sync_no_show(session: AsyncSession, event: WebhookEvent) -> None:
    """``{message, bookingUid, attendees: [{email, noShow}]}``: mark or clear the no-show."""
    body = _body(event)
    payload = body.get("payload") or {}
    uid = payload.get("bookingUid")
    if not uid:
        log.warning("calcom.sync_unusable_event", webhook_event_id=event.id, trigger="NO_SHOW")
        return
    company = await resolve_company(session, event, uids=[str(uid)], event_type_id=None)
    if company is None:
        return
    await repository.lock_company_sync(session, company.id)
    event_at = parse_instant(body.get("createdAt")) or dt.datetime.now(dt.UTC)
    attendees = payload.get("attendees") or []
    no_show = any(isinstance(a, dict) and a.get("noShow") for a in attendees)
    ledger = await repository.ledger_rows(session, company.id, [str(uid)])
    row = ledger.get(str(uid))
    if row is None:
        row = CalcomBooking(
            company_id=company.id, uid=str(uid), status="accepted", event_at=event_at
        )
        session.add(row)
    elif row.event_at > event_at:
        log.info("calcom.sync_skipped", uid=uid, stale=True, trigger="BOOKING_NO_SHOW_UPDATED")
        return
    row.no_show = no_show
    row.event_at = event_at
    appointment = await repository.appointment_by_uid(session, company.id, str(uid))
    if appointment is None:
        await session.flush()
        return
    row.appointment_id = appointment.id
    await booking.mark_no_show(session, appointment, no_show, attendees)


@handles("calcom", "PING")
async def acknowledge_ping(_session: AsyncSession, event: WebhookEvent) -> None:
    """Cal.com's "Ping test": accepted, nothing to change."""
    log.info("calcom.ping", webhook_event_id=event.id)
