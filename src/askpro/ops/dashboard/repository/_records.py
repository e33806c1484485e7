"""The dashboard's lists and detail rows: calls, appointments (and the branches and staff
of the day view), customers, and the queue's jobs of a webhook event."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import RowMapping, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.kit.pagination import PageRequest, SortKey, paginate_mappings
from askpro.models import (
    Appointment,
    AppointmentEvent,
    Branch,
    Call,
    Customer,
    LedgerEntry,
    Service,
    Staff,
)

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
