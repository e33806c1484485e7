"""Read-only queries of calls for the admin API (the Retell handlers own writes)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.booking.schemas import AppointmentOut
from askpro.kit.pagination import PageRequest, SortKey, paginate
from askpro.models import Appointment, Call
from askpro.outbound import messages
from askpro.outbound.schemas import MessageOut


class CallOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    call_id: str
    company_id: int
    branch_id: int | None
    customer_id: int | None
    agent_id: str | None
    from_number: str | None
    to_number: str | None
    direction: str | None
    status: str | None
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    duration_ms: int | None
    disconnection_reason: str | None
    sentiment: str | None
    created_at: dt.datetime


class CallDetail(CallOut):
    transcript: str | None
    summary: str | None
    analysis: dict[str, Any] | None
    appointments: list[AppointmentOut]
    messages: list[MessageOut] = Field(
        description="Messages and call-back requests the agent took during the call."
    )


# Newest first; created_at is never null (started_at is, until call_started arrives).
SORT = [SortKey(Call.created_at), SortKey(Call.id)]


async def list_calls(
    session: AsyncSession,
    company_id: int,
    page: PageRequest,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    customer_id: int | None = None,
    statuses: list[str] | None = None,
) -> tuple[list[Call], str | None]:
    """``company_id``'s calls, newest first; ``since``/``until`` bound ``started_at``."""
    statement = select(Call).where(Call.company_id == company_id)
    if since is not None:
        statement = statement.where(Call.started_at >= since)
    if until is not None:
        statement = statement.where(Call.started_at < until)
    if customer_id is not None:
        statement = statement.where(Call.customer_id == customer_id)
    if statuses:
        statement = statement.where(Call.status.in_(statuses))
    return await paginate(session, statement, SORT, page, descending=True)


async def get_call(session: AsyncSession, company_id: int, call_row_id: int) -> CallDetail | None:
    """The call with its transcript and the appointments booked during it."""
    call = (
        await session.execute(
            select(Call).where(Call.id == call_row_id, Call.company_id == company_id)
        )
    ).scalar_one_or_none()
    if call is None:
        return None
    appointments = (
        await session.scalars(
            select(Appointment)
            .where(
                Appointment.company_id == company_id,
                Appointment.call_id == call.id,
                Appointment.status != "held",
            )
            .order_by(Appointment.starts_at, Appointment.id)
        )
    ).all()
    return CallDetail.model_validate(
        {
            **CallOut.model_validate(call).model_dump(),
            "transcript": call.transcript,
            "summary": call.summary,
            "analysis": call.analysis,
            "appointments": [AppointmentOut.model_validate(row) for row in appointments],
            "messages": [
                MessageOut.model_validate(row)
                for row in await messages.messages_of_call(session, company_id, call.id)
            ],
        }
    )
