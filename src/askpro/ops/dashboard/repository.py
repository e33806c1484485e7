"""Every query of the dashboard: its sessions and the read-only views of the pages.

Read-only over the other features' tables (their services own the writes); every query of a
company's data filters ``company_id`` first. Webhook events are read through the webhooks
service, not here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import RowMapping, delete, func, literal_column, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.kit.pagination import PageRequest, SortKey, paginate_mappings
from askpro.models import (
    ApiToken,
    Appointment,
    AppointmentEvent,
    Branch,
    Call,
    CallerMessage,
    Company,
    Customer,
    DashboardSession,
    LedgerEntry,
    Service,
    Staff,
    WebhookEvent,
)

# ---- sessions ------------------------------------------------------------------------


async def add_session(session: AsyncSession, row: DashboardSession) -> DashboardSession:
    session.add(row)
    await session.flush()
    return row


async def session_with_token(
    session: AsyncSession, secret_hash: bytes, now: dt.datetime
) -> tuple[DashboardSession, ApiToken, Company | None] | None:
    """The unexpired session with this cookie hash, its token (checked by the caller) and
    the company it acts on, in one query (every page asks)."""
    row = (
        await session.execute(
            select(DashboardSession, ApiToken, Company)
            .join(ApiToken, ApiToken.id == DashboardSession.token_id)
            .outerjoin(Company, Company.id == DashboardSession.company_id)
            .where(DashboardSession.secret_hash == secret_hash, DashboardSession.expires_at > now)
        )
    ).one_or_none()
    return (row[0], row[1], row[2]) if row is not None else None


async def delete_session(session: AsyncSession, session_id: int) -> None:
    await session.execute(delete(DashboardSession).where(DashboardSession.id == session_id))


async def choose_company(session: AsyncSession, session_id: int, company_id: int | None) -> None:
    await session.execute(
        update(DashboardSession)
        .where(DashboardSession.id == session_id)
        .values(company_id=company_id)
    )


async def delete_expired_sessions(session: AsyncSession, now: dt.datetime) -> None:
    await session.execute(delete(DashboardSession).where(DashboardSession.expires_at <= now))


async def company(session: AsyncSession, company_id: int) -> Company | None:
    return await session.get(Company, company_id)


async def companies(session: AsyncSession) -> Sequence[Company]:
    return (await session.scalars(select(Company).order_by(Company.name, Company.id))).all()


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


# ---- calls ---------------------------------------------------------------------------


def _customer_column(column: Any, customer_id: Any, label: str) -> Any:
    """A customer's column looked up per row through the primary key: a join would let the
    planner hash the whole customers table for a page of 50 rows."""
    return select(column).where(Customer.id == customer_id).scalar_subquery().label(label)


_CALL_COLUMNS = (
    Call.id,
    Call.call_id,
    Call.from_number,
    Call.direction,
    Call.status,
    Call.started_at,
    Call.duration_ms,
    Call.disconnection_reason,
    Call.sentiment,
    Call.customer_id,
    _customer_column(Customer.name, Call.customer_id, "customer_name"),
    # A call's charge is one ledger entry (kind, external_reference = the Retell call id).
    select(-LedgerEntry.amount_cents)
    .where(LedgerEntry.kind == "call_charge", LedgerEntry.external_reference == Call.call_id)
    .scalar_subquery()
    .label("charged_cents"),
)


def _calls_select() -> Any:
    return select(*_CALL_COLUMNS)


async def page_calls(
    session: AsyncSession,
    company_id: int,
    page: PageRequest,
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    customer_id: int | None = None,
) -> tuple[list[Mapping[str, Any]], str | None]:
    """The company's calls, newest first; ``start``/``end`` bound ``started_at``."""
    statement = _calls_select().where(Call.company_id == company_id)
    if start is not None:
        statement = statement.where(Call.started_at >= start)
    if end is not None:
        statement = statement.where(Call.started_at < end)
    if customer_id is not None:
        statement = statement.where(Call.customer_id == customer_id)
    return await paginate_mappings(session, statement, [SortKey(Call.id)], page, descending=True)


async def call(session: AsyncSession, company_id: int, call_row_id: int) -> Call | None:
    return (
        await session.execute(
            select(Call).where(Call.company_id == company_id, Call.id == call_row_id)
        )
    ).scalar_one_or_none()


async def call_charge(session: AsyncSession, call_id: str) -> int | None:
    amount: int | None = await session.scalar(
        select(-LedgerEntry.amount_cents).where(
            LedgerEntry.kind == "call_charge", LedgerEntry.external_reference == call_id
        )
    )
    return amount


# ---- appointments --------------------------------------------------------------------

_APPOINTMENT_COLUMNS = (
    Appointment.id,
    Appointment.staff_id,
    Appointment.branch_id,
    Appointment.starts_at,
    Appointment.ends_at,
    Appointment.status,
    Appointment.source,
    Appointment.calcom_sync_state,
    Appointment.customer_id,
    Appointment.call_id,
    _customer_column(Customer.name, Appointment.customer_id, "customer_name"),
    _customer_column(Customer.phone, Appointment.customer_id, "customer_phone"),
    Service.name.label("service_name"),
    Staff.name.label("staff_name"),
)


def _appointments_select(company_id: int) -> Any:
    return (
        select(*_APPOINTMENT_COLUMNS)
        .join(Service, Service.id == Appointment.service_id)
        .join(Staff, Staff.id == Appointment.staff_id)
        .where(Appointment.company_id == company_id)
    )


async def branches(session: AsyncSession, company_id: int) -> Sequence[Branch]:
    return (
        await session.scalars(
            select(Branch).where(Branch.company_id == company_id).order_by(Branch.name, Branch.id)
        )
    ).all()


async def staff_of_branch(
    session: AsyncSession, company_id: int, branch_id: int | None
) -> Sequence[Staff]:
    statement = select(Staff).where(Staff.company_id == company_id, Staff.active.is_(True))
    if branch_id is not None:
        statement = statement.where(Staff.branch_id == branch_id)
    return (await session.scalars(statement.order_by(Staff.name, Staff.id))).all()


async def appointments_between(
    session: AsyncSession,
    company_id: int,
    staff_ids: Sequence[int],
    start: dt.datetime,
    end: dt.datetime,
) -> list[RowMapping]:
    """The appointments of these staff members starting in ``[start, end)``, by time."""
    if not staff_ids:
        return []
    rows = await session.execute(
        _appointments_select(company_id)
        .where(
            Appointment.staff_id.in_(staff_ids),
            Appointment.starts_at >= start,
            Appointment.starts_at < end,
        )
        .order_by(Appointment.starts_at, Appointment.id)
    )
    return list(rows.mappings().all())


async def appointment(
    session: AsyncSession, company_id: int, appointment_id: int
) -> RowMapping | None:
    row = await session.execute(
        _appointments_select(company_id).where(Appointment.id == appointment_id)
    )
    return row.mappings().one_or_none()


async def appointment_history(
    session: AsyncSession, company_id: int, appointment_id: int
) -> Sequence[AppointmentEvent]:
    return (
        await session.scalars(
            select(AppointmentEvent)
            .where(
                AppointmentEvent.company_id == company_id,
                AppointmentEvent.appointment_id == appointment_id,
            )
            .order_by(AppointmentEvent.created_at, AppointmentEvent.id)
        )
    ).all()


async def appointments_of(
    session: AsyncSession,
    company_id: int,
    *,
    call_id: int | None = None,
    customer_id: int | None = None,
    also_ids: Sequence[int] = (),
    limit: int = 100,
) -> list[RowMapping]:
    """A call's (booked during it, or ``also_ids``) or a customer's appointments, newest
    first."""
    statement = _appointments_select(company_id)
    if call_id is not None:
        statement = statement.where(
            or_(Appointment.call_id == call_id, Appointment.id.in_(also_ids))
        )
    if customer_id is not None:
        statement = statement.where(Appointment.customer_id == customer_id)
    rows = await session.execute(
        statement.order_by(Appointment.starts_at.desc(), Appointment.id.desc()).limit(limit)
    )
    return list(rows.mappings().all())


async def appointments_changed_in_call(
    session: AsyncSession, company_id: int, call: Call
) -> list[int]:
    """Appointments the agent changed during the call (their history names the call as the
    actor, ``retell:<call id>``; looked up in the call's time window through the index)."""
    if call.started_at is None:
        return []
    until = (call.ended_at or call.started_at + dt.timedelta(hours=2)) + dt.timedelta(minutes=5)
    ids = await session.scalars(
        select(AppointmentEvent.appointment_id)
        .where(
            AppointmentEvent.company_id == company_id,
            AppointmentEvent.created_at >= call.started_at,
            AppointmentEvent.created_at < until,
            AppointmentEvent.actor == f"retell:{call.call_id}",
        )
        .distinct()
    )
    return list(ids)


# ---- customers -----------------------------------------------------------------------


def _like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


async def page_customers(
    session: AsyncSession,
    company_id: int,
    page: PageRequest,
    *,
    phone: str | None = None,
    name: str | None = None,
) -> tuple[list[Mapping[str, Any]], str | None]:
    """Live (not merged) customers, newest first: an exact E.164 number or a name prefix."""
    statement: Any = select(Customer.id, Customer.name, Customer.phone, Customer.email).where(
        Customer.company_id == company_id, Customer.merged_into_id.is_(None)
    )
    if phone is not None:
        statement = statement.where(Customer.phone == phone)
    elif name:
        statement = statement.where(Customer.name.ilike(_like_prefix(name), escape="\\"))
    return await paginate_mappings(
        session, statement, [SortKey(Customer.id)], page, descending=True
    )


async def customer(session: AsyncSession, company_id: int, customer_id: int) -> Customer | None:
    return (
        await session.execute(
            select(Customer).where(Customer.company_id == company_id, Customer.id == customer_id)
        )
    ).scalar_one_or_none()


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


# ---- webhook jobs --------------------------------------------------------------------


async def jobs_of_event(
    session: AsyncSession, queueing_lock: str, correlation_id: str | None
) -> list[RowMapping]:
    """The queue's jobs the event caused: its processing job and every job that carries its
    correlation id (a read-only look at the queue's table; bounded, not indexed)."""
    rows = await session.execute(
        text(
            "SELECT id, task_name, status, attempts, scheduled_at FROM procrastinate_jobs "
            "WHERE queueing_lock = :lock OR args->>'correlation_id' = :correlation_id "
            "ORDER BY id LIMIT 50"
        ),
        {"lock": queueing_lock, "correlation_id": correlation_id},
    )
    return list(rows.mappings().all())
