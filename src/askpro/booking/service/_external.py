"""Apply what Cal.com reported (webhooks, reconciliation) to the appointment book.

The Cal.com sync decides *what* Cal.com said (ordering, reschedule chains, which local
appointment it is about) and calls these functions; they are the only code that writes
appointments, their history and appointment-linked customers for Cal.com. They run in the
caller's transaction and never commit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.booking import repository
from askpro.booking.schemas import (
    AppointmentSource,
    AppointmentStatus,
    ExternalBooking,
    HistoryKind,
    SyncState,
)
from askpro.customers import service as customers
from askpro.models import Appointment, Company, Service, Staff
from askpro.observability import get_logger

log = get_logger(__name__)
CHANNEL = "calcom"


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _times(booking: ExternalBooking, service: Service) -> dict[str, dt.datetime] | None:
    if booking.start is None:
        return None
    blocks_from, ends_at, blocks_until = repository.buffered_range(
        service, booking.start, booking.end
    )
    return {
        "starts_at": booking.start,
        "ends_at": ends_at,
        "blocks_from": blocks_from,
        "blocks_until": blocks_until,
    }


async def _staff_candidates(
    session: AsyncSession, company_id: int, service_id: int, booking: ExternalBooking
) -> list[Staff]:
    """The host's staff record first (by Cal.com user id or e-mail), then qualified staff."""
    staff = await repository.staff_by_calcom_user(
        session, company_id, booking.organizer_id, booking.organizer_email
    )
    qualified = await repository.qualified_staff(
        session, company_id, service_id, branch_id=None, staff_id=None
    )
    staff.extend(member for member, _own in qualified if member not in staff)
    return staff


async def record_external_booking(
    session: AsyncSession, company: Company, booking: ExternalBooking, service: Service
) -> Appointment | None:
    """A booking made in Cal.com that askpro does not have yet: on the host's staff member
    (a round-robin host maps through ``staff.calcom_user_id``), else the first free one."""
    times = _times(booking, service)
    if times is None:
        return None
    customer = None
    if booking.attendee_phone or booking.attendee_email or booking.attendee_name:
        customer = await customers.find_or_create_by_contact(
            session,
            company,
            booking.attendee_phone,
            booking.attendee_name,
            booking.attendee_email,
        )
    candidates = await _staff_candidates(session, company.id, service.id, booking)
    status = AppointmentStatus.CANCELLED if booking.cancelled else AppointmentStatus.BOOKED
    for staff in candidates:
        appointment = Appointment(
            company_id=company.id,
            staff_id=staff.id,
            service_id=service.id,
            customer_id=customer.id if customer else None,
            status=status,
            calcom_booking_uid=booking.uid,
            calcom_sync_state=SyncState.SYNCED,
            source=AppointmentSource.CALCOM,
            cancellation_reason=((booking.reason or "")[:200] or None)
            if booking.cancelled
            else None,
            **times,
        )
        try:
            async with session.begin_nested():
                session.add(appointment)
                await session.flush()
        except IntegrityError as error:
            if not repository.is_overlap_violation(error):
                raise
            continue  # this staff member is busy then; try the next qualified one
        session.add(
            repository.history(
                appointment,
                booking.history_kind,
                booking.actor,
                CHANNEL,
                uid=booking.uid,
                status=appointment.status,
                starts_at=_iso(booking.start),
            )
        )
        return appointment
    log.error(
        "calcom.sync_no_free_staff",
        company_id=company.id,
        uid=booking.uid,
        starts_at=_iso(booking.start),
        candidates=len(candidates),
    )
    return None


def cancel_external(appointment: Appointment, booking: ExternalBooking) -> dict[str, Any]:
    """Cal.com cancelled it: cancel here (the changes made, for the history)."""
    if appointment.status not in (AppointmentStatus.HELD, AppointmentStatus.BOOKED):
        return {}
    changes: dict[str, Any] = {"status": [appointment.status, AppointmentStatus.CANCELLED]}
    appointment.status = AppointmentStatus.CANCELLED
    appointment.cancellation_reason = (booking.reason or "cancelled in Cal.com")[:200]
    return changes


async def move_external(
    session: AsyncSession, appointment: Appointment, booking: ExternalBooking, service: Service
) -> dict[str, Any]:
    """Cal.com has it at another time (or revived a hold): follow, same staff member; on a
    local overlap keep the old times and flag the appointment."""
    changes: dict[str, Any] = {}
    if appointment.status in (AppointmentStatus.HELD, AppointmentStatus.CANCELLED):
        changes["status"] = [appointment.status, AppointmentStatus.BOOKED]
        appointment.status = AppointmentStatus.BOOKED
        appointment.hold_expires_at = None
    times = _times(booking, service)
    if times is None or (
        appointment.starts_at == times["starts_at"] and appointment.ends_at == times["ends_at"]
    ):
        return changes
    changes["starts_at"] = [_iso(appointment.starts_at), _iso(times["starts_at"])]
    try:
        async with session.begin_nested():
            for name, value in times.items():
                setattr(appointment, name, value)
            await session.flush()
    except IntegrityError as error:
        if not repository.is_overlap_violation(error):
            raise
        await session.refresh(appointment)
        appointment.calcom_sync_state = SyncState.FAILED
        appointment.calcom_sync_error = (
            f"Cal.com moved booking {appointment.calcom_booking_uid} to "
            f"{times['starts_at'].isoformat()}, which overlaps another appointment here"
        )
        log.error("calcom.sync_move_conflict", appointment_id=appointment.id)
        changes["conflict"] = "the new time overlaps another appointment of the staff"
    return changes


async def update_external(
    session: AsyncSession, appointment: Appointment, booking: ExternalBooking, service: Service
) -> None:
    """Bring a known appointment to what Cal.com says now (uid, status, time)."""
    changes: dict[str, Any] = {}
    if appointment.calcom_booking_uid != booking.uid:
        changes["uid"] = [appointment.calcom_booking_uid, booking.uid]
        appointment.calcom_booking_uid = booking.uid
    if booking.cancelled:
        changes |= cancel_external(appointment, booking)
    elif appointment.status == AppointmentStatus.CANCELLED and booking.kind != "rescheduled":
        log.info("calcom.sync_not_reviving", uid=booking.uid, appointment_id=appointment.id)
    else:
        changes |= await move_external(session, appointment, booking, service)
    if appointment.calcom_sync_state != SyncState.SYNCED and "conflict" not in changes:
        appointment.calcom_sync_state = SyncState.SYNCED
        appointment.calcom_sync_error = None
    await session.flush()
    if changes:
        session.add(
            repository.history(appointment, booking.history_kind, booking.actor, CHANNEL, **changes)
        )


async def merge_external(
    session: AsyncSession, *, keep: Appointment, drop: Appointment
) -> Appointment:
    """Fold ``drop`` (made for the new uid before its reschedule arrived) into ``keep``."""
    await repository.move_history(session, drop.id, keep.id)
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
    session.add(
        repository.history(
            keep, HistoryKind.EXTERNAL_MERGED, "calcom", CHANNEL, merged_appointment_id=drop.id
        )
    )
    return keep


async def mark_no_show(
    session: AsyncSession, appointment: Appointment, no_show: bool, attendees: list[Any]
) -> None:
    """Cal.com marked (or cleared) the attendee's no-show."""
    before = appointment.status
    if no_show and appointment.status in (AppointmentStatus.BOOKED, AppointmentStatus.COMPLETED):
        appointment.status = AppointmentStatus.NO_SHOW
    elif not no_show and appointment.status == AppointmentStatus.NO_SHOW:
        appointment.status = AppointmentStatus.BOOKED
    await session.flush()
    if appointment.status != before:
        session.add(
            repository.history(
                appointment,
                HistoryKind.EXTERNAL_NO_SHOW,
                "calcom",
                CHANNEL,
                status=[before, appointment.status],
                attendees=attendees,
            )
        )
