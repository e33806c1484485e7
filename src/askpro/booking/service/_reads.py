"""Small use cases over the repository for other features (agent tools, periodic jobs)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from askpro.booking import repository
from askpro.booking.schemas import AppointmentView
from askpro.booking.service._sync import pending_ids
from askpro.db import Database
from askpro.models import Appointment
from askpro.observability import get_logger

log = get_logger(__name__)

__all__ = ["expire_holds", "pending_ids", "transfer_customer", "upcoming", "view"]


async def transfer_customer(
    session: AsyncSession, company_id: int, from_customer_id: int, to_customer_id: int
) -> int:
    """A customer merge: the loser's appointments now belong to the survivor (how many)."""
    return await repository.transfer_customer(session, company_id, from_customer_id, to_customer_id)


async def view(session: AsyncSession, appointment: Appointment) -> AppointmentView:
    return await repository.view(session, appointment)


async def upcoming(
    database: Database, company_id: int, customer_id: int | None, now: dt.datetime
) -> list[AppointmentView]:
    """The customer's next booked appointments (at most 5), soonest first."""
    if customer_id is None:
        return []
    async with database.sessions() as session:
        rows = await repository.upcoming_of_customer(session, company_id, customer_id, now)
        return [await repository.view(session, row) for row in rows]


async def expire_holds(database: Database, now: dt.datetime) -> int:
    """Cancel holds past their expiry, everywhere (the booking transaction ignores them)."""

    async def work(session: AsyncSession) -> int:
        return await repository.expire_holds(session, [], now)

    count = await database.unit_of_work(work, name="booking.expire_holds")
    if count:
        log.info("booking.holds_expired", count=count)
    return count
