"""The dashboard's figures: today's counts (calls, messages, bookings, failing webhooks,
pending syncs) and the charts' series per hour or per day."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.models import Appointment, Call, CallerMessage, WebhookEvent

# ---- today ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CallFigures:
    answered: int
    with_booking: int
    duration_ms: int


async def call_figures(
    session: AsyncSession, company_id: int, start: dt.datetime, end: dt.datetime
) -> CallFigures:
    """Calls started in ``[start, end)``; how many booked an appointment; their duration."""
    booked = (
        select(Appointment.call_id)
        .where(
            Appointment.company_id == company_id,
            Appointment.call_id == Call.id,
            Appointment.status != "held",
        )
        .exists()
    )
    row = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(booked),
                func.coalesce(func.sum(Call.duration_ms), 0),
            ).where(Call.company_id == company_id, Call.started_at >= start, Call.started_at < end)
        )
    ).one()
    return CallFigures(answered=row[0], with_booking=row[1], duration_ms=int(row[2] or 0))


async def messages_taken(
    session: AsyncSession, company_id: int, start: dt.datetime, end: dt.datetime
) -> int:
    """Messages and call-back requests the agent took in ``[start, end)``."""
    count = await session.scalar(
        select(func.count()).where(
            CallerMessage.company_id == company_id,
            CallerMessage.created_at >= start,
            CallerMessage.created_at < end,
        )
    )
    return int(count or 0)


async def phone_bookings(
    session: AsyncSession, company_id: int, start: dt.datetime, end: dt.datetime
) -> int:
    """Appointments the agent booked (source ``phone``) created in ``[start, end)``."""
    count: int = (
        await session.scalar(
            select(func.count()).where(
                Appointment.company_id == company_id,
                Appointment.created_at >= start,
                Appointment.created_at < end,
                Appointment.source == "phone",
                Appointment.status != "held",
            )
        )
        or 0
    )
    return count


async def failing_webhooks(session: AsyncSession, company_id: int | None) -> dict[str, int]:
    """``{"failed": n, "dead": m}`` for the company (``None``: all companies)."""
    statement = select(WebhookEvent.status, func.count()).where(
        WebhookEvent.status.in_(("failed", "dead"))
    )
    if company_id is not None:
        statement = statement.where(WebhookEvent.company_id == company_id)
    rows = (await session.execute(statement.group_by(WebhookEvent.status))).all()
    counts = {"failed": 0, "dead": 0}
    counts.update({status: count for status, count in rows})
    return counts


async def pending_syncs(session: AsyncSession, company_id: int) -> int:
    count: int = (
        await session.scalar(
            select(func.count()).where(
                Appointment.calcom_sync_state.in_(("pending", "failed")),
                Appointment.company_id == company_id,
            )
        )
        or 0
    )
    return count


# ---- charts --------------------------------------------------------------------------


async def webhooks_per_hour(
    session: AsyncSession, company_id: int | None, since: dt.datetime
) -> list[tuple[dt.datetime, int, int]]:
    """(hour, events, failed or dead) for each hour with events since ``since``."""
    hour = func.date_trunc(literal_column("'hour'"), WebhookEvent.received_at).label("hour")
    statement = select(
        hour,
        func.count(),
        func.count().filter(WebhookEvent.status.in_(("failed", "dead"))),
    ).where(WebhookEvent.received_at >= since)
    if company_id is not None:
        statement = statement.where(WebhookEvent.company_id == company_id)
    rows = await session.execute(statement.group_by(hour).order_by(hour))
    return [(row[0], row[1], row[2]) for row in rows]


async def calls_per_day(
    session: AsyncSession, company_id: int, since: dt.datetime, time_zone: str
) -> dict[dt.date, int]:
    day = func.date(func.timezone(time_zone, Call.started_at)).label("day")
    rows = await session.execute(
        select(day, func.count())
        .where(Call.company_id == company_id, Call.started_at >= since)
        .group_by(day)
    )
    return {row[0]: row[1] for row in rows}


async def bookings_per_day(
    session: AsyncSession, company_id: int, since: dt.datetime, time_zone: str
) -> dict[dt.date, int]:
    day = func.date(func.timezone(time_zone, Appointment.created_at)).label("day")
    rows = await session.execute(
        select(day, func.count())
        .where(
            Appointment.company_id == company_id,
            Appointment.created_at >= since,
            Appointment.status != "held",
        )
        .group_by(day)
    )
    return {row[0]: row[1] for row in rows}
