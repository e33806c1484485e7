"""Apply a Cal.com booking snapshot to the local appointment book, in any arrival order.

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
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.integrations.calcom.client import IDEMPOTENCY_METADATA_KEY
from askpro.integrations.calcom.sync import repository
from askpro.integrations.calcom.sync.snapshot import BookingSnapshot
from askpro.models import Appointment, CalcomBooking, Company, Service
from askpro.observability import get_logger

log = get_logger(__name__)
EXCLUSION_VIOLATION = "23P01"
# Metadata askpro puts on bookings it makes: the local appointment id links them directly.
APPOINTMENT_METADATA_KEY = "askproAppointmentId"
OWN_BOOKING_GRACE = dt.timedelta(minutes=10)


async def apply_snapshot(
    session: AsyncSession, company: Company, snapshot: BookingSnapshot
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
        target: Appointment | None = await _merge(session, keep=previous, drop=current)
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
    if target is None:
        target = await _create(session, company, snapshot, service)
    elif service is not None:
        await _update(session, target, snapshot, service)
    if target is not None:
        row.appointment_id = target.id
    return target


def _ledger_row(
    session: AsyncSession,
    ledger: dict[str, CalcomBooking],
    company_id: int,
    uid: str,
    snapshot: BookingSnapshot,
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
    session: AsyncSession, company: Company, snapshot: BookingSnapshot
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


def _own_booking_in_flight(snapshot: BookingSnapshot) -> bool:
    age = dt.datetime.now(dt.UTC) - snapshot.event_at
    return IDEMPOTENCY_METADATA_KEY in snapshot.metadata and age < OWN_BOOKING_GRACE


def _local_change_pending(appointment: Appointment, event_at: dt.datetime) -> bool:
    return appointment.calcom_sync_state in ("pending", "failed") and (
        appointment.updated_at is not None and appointment.updated_at > event_at
    )


async def _service_of(
    session: AsyncSession,
    company: Company,
    snapshot: BookingSnapshot,
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


def _times(snapshot: BookingSnapshot, service: Service) -> dict[str, dt.datetime] | None:
    if snapshot.start is None:
        return None
    end = snapshot.end or snapshot.start + dt.timedelta(minutes=service.duration_minutes)
    return {
        "starts_at": snapshot.start,
        "ends_at": end,
        "blocks_from": snapshot.start - dt.timedelta(minutes=service.buffer_before_minutes),
        "blocks_until": end + dt.timedelta(minutes=service.buffer_after_minutes),
    }


async def _create(
    session: AsyncSession, company: Company, snapshot: BookingSnapshot, service: Service | None
) -> Appointment | None:
    times = _times(snapshot, service) if service is not None else None
    if service is None or times is None:
        return None
    customer = await repository.find_or_create_customer(
        session,
        company,
        name=snapshot.attendee_name,
        phone=snapshot.attendee_phone,
        email=snapshot.attendee_email,
    )
    candidates = await repository.staff_candidates(
        session,
        company.id,
        service.id,
        organizer_email=snapshot.organizer_email,
        organizer_id=snapshot.organizer_id,
    )
    for staff in candidates:
        appointment = Appointment(
            company_id=company.id,
            staff_id=staff.id,
            service_id=service.id,
            customer_id=customer.id if customer else None,
            status="cancelled" if snapshot.cancelled else "booked",
            calcom_booking_uid=snapshot.uid,
            calcom_sync_state="synced",
            source="calcom",
            cancellation_reason=(snapshot.reason or "")[:200] or None
            if snapshot.cancelled
            else None,
            **times,
        )
        try:
            async with session.begin_nested():
                session.add(appointment)
                await session.flush()
        except IntegrityError as error:
            if getattr(error.orig, "sqlstate", None) != EXCLUSION_VIOLATION:
                raise
            continue  # this staff member is busy then; try the next qualified one
        repository.add_event(
            session,
            appointment,
            f"calcom.{snapshot.kind}",
            snapshot.actor,
            {"uid": snapshot.uid, "status": appointment.status, "starts_at": _iso(snapshot.start)},
        )
        return appointment
    log.error(
        "calcom.sync_no_free_staff",
        company_id=company.id,
        uid=snapshot.uid,
        starts_at=_iso(snapshot.start),
        candidates=len(candidates),
    )
    return None


async def _update(
    session: AsyncSession, appointment: Appointment, snapshot: BookingSnapshot, service: Service
) -> None:
    changes: dict[str, Any] = {}
    if appointment.calcom_booking_uid != snapshot.uid:
        changes["uid"] = [appointment.calcom_booking_uid, snapshot.uid]
        appointment.calcom_booking_uid = snapshot.uid
    if snapshot.cancelled:
        if appointment.status in ("held", "booked"):
            changes["status"] = [appointment.status, "cancelled"]
            appointment.status = "cancelled"
            appointment.cancellation_reason = (snapshot.reason or "cancelled in Cal.com")[:200]
    elif appointment.status == "cancelled" and snapshot.kind != "rescheduled":
        log.info("calcom.sync_not_reviving", uid=snapshot.uid, appointment_id=appointment.id)
    else:
        if appointment.status in ("held", "cancelled"):
            changes["status"] = [appointment.status, "booked"]
            appointment.status = "booked"
            appointment.hold_expires_at = None
        times = _times(snapshot, service)
        if times is not None and (
            appointment.starts_at != times["starts_at"] or appointment.ends_at != times["ends_at"]
        ):
            changes["starts_at"] = [_iso(appointment.starts_at), _iso(times["starts_at"])]
            if not await _move(session, appointment, times):
                changes["conflict"] = "the new time overlaps another appointment of the staff"
    if appointment.calcom_sync_state != "synced" and "conflict" not in changes:
        appointment.calcom_sync_state = "synced"
        appointment.calcom_sync_error = None
    await session.flush()
    if changes:
        repository.add_event(
            session, appointment, f"calcom.{snapshot.kind}", snapshot.actor, changes
        )


async def _move(
    session: AsyncSession, appointment: Appointment, times: dict[str, dt.datetime]
) -> bool:
    """Move to the new times (same staff); on a local overlap keep the old times, flag it."""
    try:
        async with session.begin_nested():
            for name, value in times.items():
                setattr(appointment, name, value)
            await session.flush()
    except IntegrityError as error:
        if getattr(error.orig, "sqlstate", None) != EXCLUSION_VIOLATION:
            raise
        await session.refresh(appointment)
        appointment.calcom_sync_state = "failed"
        appointment.calcom_sync_error = (
            f"Cal.com moved booking {appointment.calcom_booking_uid} to "
            f"{times['starts_at'].isoformat()}, which overlaps another appointment here"
        )
        log.error("calcom.sync_move_conflict", appointment_id=appointment.id)
        return False
    return True


async def _merge(session: AsyncSession, *, keep: Appointment, drop: Appointment) -> Appointment:
    """Fold ``drop`` (made for the new uid before its reschedule arrived) into ``keep``."""
    await repository.move_appointment_history(session, drop.id, keep.id)
    state = {
        name: getattr(drop, name)
        for name in (
            "starts_at",
            "ends_at",
            "blocks_from",
            "blocks_until",
            "status",
            "cancellation_reason",
            "calcom_booking_uid",
        )
    }
    await session.delete(drop)
    await session.flush()
    for name, value in state.items():
        setattr(keep, name, value)
    keep.hold_expires_at = None
    await session.flush()
    repository.add_event(
        session, keep, "calcom.merged", "calcom", {"merged_appointment_id": drop.id}
    )
    return keep


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
