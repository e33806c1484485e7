"""Decide what a Cal.com booking snapshot means for the local appointment book, in any
arrival order, and have booking's service apply it (this module writes no appointments).

Rules (each is tested with events delivered in order and out of order):
- The ledger row of a uid remembers Cal.com's time of the newest state applied for it; an
  older snapshot changes nothing (no regression).
- A reschedule links the old uid to the new one; the appointment follows the chain (its
  ``calcom_booking_uid`` becomes the new uid) and the old uid is never revived.
- If events created two appointments for one chain (the new uid's cancel arrived before the
  reschedule), the reschedule merges them into the older one.
- Local changes still waiting to be pushed to Cal.com (sync state pending/failed) that are
  newer than the snapshot win; the booking sync job pushes them.
- Cancelled appointments are not revived by a late "created" event.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from askpro.booking import service as booking
from askpro.booking.calcom_gateway import APPOINTMENT_METADATA_KEY
from askpro.booking.schemas import ExternalBooking, SyncState
from askpro.integrations.calcom.client import IDEMPOTENCY_METADATA_KEY
from askpro.integrations.calcom.sync import repository
from askpro.models import Appointment, CalcomBooking, Company, Service
from askpro.observability import get_logger

log = get_logger(__name__)
OWN_BOOKING_GRACE = dt.timedelta(minutes=10)


async def apply_snapshot(
    session: AsyncSession, company: Company, snapshot: ExternalBooking
) -> Appointment | None:
    """Bring the local appointment of ``snapshot.uid`` up to date; returns it (if any)."""
    await repository.lock_company_sync(session, company.id)
    uids = [uid for uid in (snapshot.uid, snapshot.from_uid, snapshot.to_uid) if uid]
    ledger = await repository.ledger_rows(session, company.id, uids)
    if snapshot.from_uid:
        previous_row = _ledger_row(session, ledger, company.id, snapshot.from_uid, snapshot)
        previous_row.rescheduled_to_uid = snapshot.uid
        previous_row.status = "cancelled"
        previous_row.event_at = max(previous_row.event_at, snapshot.event_at)
    row = ledger.get(snapshot.uid)
    stale = row is not None and row.event_at > snapshot.event_at
    if row is None:
        row = _ledger_row(session, ledger, company.id, snapshot.uid, snapshot)
    elif not stale:
        row.status = snapshot.status
        row.event_at = snapshot.event_at
    if snapshot.from_uid:
        row.rescheduled_from_uid = snapshot.from_uid
    if snapshot.to_uid:
        row.rescheduled_to_uid = snapshot.to_uid
        row.status = "cancelled"
    superseded = row.rescheduled_to_uid is not None

    current = await repository.appointment_by_uid(session, company.id, snapshot.uid)
    previous = await repository.appointment_by_uid(session, company.id, snapshot.from_uid)
    if current is not None and previous is not None and current.id != previous.id:
        await repository.move_ledger_links(session, current.id, previous.id)
        target: Appointment | None = await booking.merge_external(
            session, keep=previous, drop=current
        )
    else:
        target = current or previous
    if target is None:
        target = await _appointment_named_in_metadata(session, company, snapshot)
    await session.flush()

    if superseded or stale:
        # This uid's own state is older than what we applied, or lives on in a newer uid.
        row.appointment_id = target.id if target is not None else row.appointment_id
        log.info("calcom.sync_skipped", uid=snapshot.uid, stale=stale, superseded=superseded)
        return target
    if target is not None and _local_change_pending(target, snapshot.event_at):
        row.appointment_id = target.id
        log.info("calcom.sync_local_change_wins", uid=snapshot.uid, appointment_id=target.id)
        return target
    service = await _service_of(session, company, snapshot, target)
    if target is None and _own_booking_in_flight(snapshot):
        # askpro's booking engine made this booking and is about to store its uid on the
        # local appointment; creating another here would double it.
        log.info("calcom.sync_own_booking_in_flight", uid=snapshot.uid)
        return None
    if target is None and service is not None:
        target = await booking.record_external_booking(session, company, snapshot, service)
    elif target is not None and service is not None:
        await booking.update_external(session, target, snapshot, service)
    if target is not None:
        row.appointment_id = target.id
    return target


def _ledger_row(
    session: AsyncSession,
    ledger: dict[str, CalcomBooking],
    company_id: int,
    uid: str,
    snapshot: ExternalBooking,
) -> CalcomBooking:
    row = ledger.get(uid)
    if row is None:
        row = CalcomBooking(
            company_id=company_id, uid=uid, status=snapshot.status, event_at=snapshot.event_at
        )
        session.add(row)
        ledger[uid] = row
    return row


async def _appointment_named_in_metadata(
    session: AsyncSession, company: Company, snapshot: ExternalBooking
) -> Appointment | None:
    """The appointment whose id askpro put in the booking's metadata (``askproAppointmentId``)."""
    raw = snapshot.metadata.get(APPOINTMENT_METADATA_KEY)
    try:
        appointment_id = int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None
    if appointment_id is None:
        return None
    appointment = await session.get(Appointment, appointment_id)
    if appointment is None or appointment.company_id != company.id:
        return None
    if appointment.calcom_booking_uid not in (None, snapshot.uid, snapshot.from_uid):
        return None
    return appointment


def _own_booking_in_flight(snapshot: ExternalBooking) -> bool:
    age = dt.datetime.now(dt.UTC) - snapshot.event_at
    return IDEMPOTENCY_METADATA_KEY in snapshot.metadata and age < OWN_BOOKING_GRACE


def _local_change_pending(appointment: Appointment, event_at: dt.datetime) -> bool:
    return appointment.calcom_sync_state in (SyncState.PENDING, SyncState.FAILED) and (
        appointment.updated_at is not None and appointment.updated_at > event_at
    )


async def _service_of(
    session: AsyncSession,
    company: Company,
    snapshot: ExternalBooking,
    target: Appointment | None,
) -> Service | None:
    if target is not None:
        return await session.get(Service, target.service_id)
    service = await repository.service_by_event_type(session, company.id, snapshot.event_type_id)
    if service is None:
        log.warning(
            "calcom.sync_unknown_event_type",
            company_id=company.id,
            event_type_id=snapshot.event_type_id,
            uid=snapshot.uid,
        )
    return service
