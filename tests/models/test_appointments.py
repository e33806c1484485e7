"""The no-overlap exclusion constraint, tested with real concurrent connections."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.db import Database
from askpro.models import Appointment, Company, Service, Staff
from tests.fixtures.factories import build_appointment, create_company, create_service, create_staff

TEN = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)


async def _seed(database: Database, **service_fields: int) -> tuple[Company, Staff, Service]:
    async def work(session: AsyncSession) -> tuple[Company, Staff, Service]:
        company = await create_company(session)
        staff = await create_staff(session, company)
        service = await create_service(session, company, **service_fields)
        return company, staff, service

    return await database.unit_of_work(work)


# The database may refuse an overlapping insert as an exclusion violation or, when several
# speculative inserts wait on each other, as a deadlock that persists through the retries.
# Either way nothing overlapping is stored; anything else is a real failure.
REFUSALS = {"23P01", "40P01"}


async def _insert(database: Database, appointment: Appointment) -> bool:
    async def work(session: AsyncSession) -> None:
        session.add(appointment)
        await session.flush()

    try:
        await database.unit_of_work(work)
    except DBAPIError as error:
        if getattr(error.orig, "sqlstate", None) not in REFUSALS:
            raise
        return False
    return True


async def _live_count(database: Database) -> int:
    async with database.sessions() as session:
        query = (
            select(func.count())
            .select_from(Appointment)
            .where(Appointment.status.in_(["held", "booked"]))
        )
        return (await session.execute(query)).scalar_one()


@pytest.mark.parametrize("offset_minutes", [0, 30, -45])
async def test_concurrent_overlapping_bookings_leave_exactly_one(
    database: Database, offset_minutes: int
) -> None:
    company, staff, service = await _seed(database)
    attempts = [
        build_appointment(
            company, staff, service, TEN + dt.timedelta(minutes=offset_minutes * (i % 2))
        )
        for i in range(10)
    ]
    results = await asyncio.gather(*(_insert(database, appointment) for appointment in attempts))
    assert results.count(True) == 1
    assert await _live_count(database) == 1


async def test_back_to_back_appointments_are_both_allowed(database: Database) -> None:
    company, staff, service = await _seed(database)
    assert await _insert(database, build_appointment(company, staff, service, TEN))
    assert await _insert(
        database, build_appointment(company, staff, service, TEN + dt.timedelta(hours=1))
    )
    assert await _live_count(database) == 2


async def test_buffers_count_as_blocked_time(database: Database) -> None:
    company, staff, service = await _seed(database, buffer_after_minutes=15)
    assert await _insert(database, build_appointment(company, staff, service, TEN))
    # Starts when the first ends, but inside its 15-minute clean-up buffer.
    assert not await _insert(
        database, build_appointment(company, staff, service, TEN + dt.timedelta(hours=1))
    )
    assert await _insert(
        database, build_appointment(company, staff, service, TEN + dt.timedelta(minutes=75))
    )


async def test_a_cancelled_appointment_never_blocks(database: Database) -> None:
    company, staff, service = await _seed(database)
    assert await _insert(
        database, build_appointment(company, staff, service, TEN, status="cancelled")
    )
    assert await _insert(database, build_appointment(company, staff, service, TEN))
    assert await _live_count(database) == 1


async def test_a_hold_blocks_like_a_booking(database: Database) -> None:
    company, staff, service = await _seed(database)
    assert await _insert(database, build_appointment(company, staff, service, TEN, status="held"))
    assert not await _insert(database, build_appointment(company, staff, service, TEN))


async def test_other_staff_may_overlap(database: Database) -> None:
    company, staff, service = await _seed(database)

    async def second_staff(session: AsyncSession) -> Staff:
        return await create_staff(session, company)

    other = await database.unit_of_work(second_staff)
    assert await _insert(database, build_appointment(company, staff, service, TEN))
    assert await _insert(database, build_appointment(company, other, service, TEN))
