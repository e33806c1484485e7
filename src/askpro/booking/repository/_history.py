"""The appointment's history: the one row builder every write path uses, and the reads and
moves of its rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.models import Appointment, AppointmentEvent
from askpro.models.appointments import HistoryKind


def history(
    appointment: Appointment,
    kind: HistoryKind,
    actor: str,
    channel: str,
    **changes: Any,
) -> AppointmentEvent:
    """The one history row builder: what changed, by whom, through which channel."""
    return AppointmentEvent(
        company_id=appointment.company_id,
        appointment_id=appointment.id,
        kind=kind,
        actor=actor[:200],
        channel=channel,
        changes={key: _jsonable(value) for key, value in changes.items()},
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value


async def first_booking_event(
    session: AsyncSession, company_id: int, appointment_id: int
) -> AppointmentEvent | None:
    return (
        await session.scalars(
            select(AppointmentEvent)
            .where(
                AppointmentEvent.company_id == company_id,
                AppointmentEvent.appointment_id == appointment_id,
                AppointmentEvent.kind.in_((HistoryKind.BOOKED, HistoryKind.BOOKED_FROM_HOLD)),
            )
            .order_by(AppointmentEvent.id)
            .limit(1)
        )
    ).one_or_none()


async def move_history(session: AsyncSession, source_id: int, target_id: int) -> None:
    await session.execute(
        update(AppointmentEvent)
        .where(AppointmentEvent.appointment_id == source_id)
        .values(appointment_id=target_id)
    )


async def history_of(
    session: AsyncSession, company_id: int, appointment_id: int
) -> list[AppointmentEvent]:
    """The appointment's change history, oldest first."""
    statement = (
        select(AppointmentEvent)
        .where(
            AppointmentEvent.company_id == company_id,
            AppointmentEvent.appointment_id == appointment_id,
        )
        .order_by(AppointmentEvent.created_at, AppointmentEvent.id)
    )
    return list((await session.scalars(statement)).all())
