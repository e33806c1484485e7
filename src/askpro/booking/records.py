"""Rows every booking change writes: the history entry, and the view callers get back."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from psycopg import errors as pg_errors
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.booking.outcomes import AppointmentView
from askpro.models import Appointment, AppointmentEvent, Service, Staff


@dataclass(frozen=True)
class Actor:
    actor: str = "system"
    channel: str = "api"


def is_overlap_violation(error: IntegrityError) -> bool:
    return isinstance(error.orig, pg_errors.ExclusionViolation)


async def view(session: AsyncSession, appointment: Appointment) -> AppointmentView:
    staff = await session.get(Staff, appointment.staff_id)
    service = await session.get(Service, appointment.service_id)
    return AppointmentView(
        id=appointment.id,
        start=appointment.starts_at,
        end=appointment.ends_at,
        status=appointment.status,
        staff_id=appointment.staff_id,
        staff_name=staff.name if staff else "",
        service_id=appointment.service_id,
        service_name=service.name if service else "",
        calcom_sync_state=appointment.calcom_sync_state,
        calcom_booking_uid=appointment.calcom_booking_uid,
        cancellation_reason=appointment.cancellation_reason,
    )


def history(appointment: Appointment, kind: str, actor: Actor, **changes: Any) -> AppointmentEvent:
    return AppointmentEvent(
        company_id=appointment.company_id,
        appointment_id=appointment.id,
        kind=kind,
        actor=actor.actor,
        channel=actor.channel,
        changes={key: _jsonable(value) for key, value in changes.items()},
    )


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value
