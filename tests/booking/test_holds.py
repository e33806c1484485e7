"""Holds: they block others while fresh, never once expired; the periodic job cleans them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from askpro.booking import tasks
from askpro.booking.schemas import Outcome
from askpro.booking.service import BookRequest, book, hold
from askpro.db import Database
from askpro.models import Appointment, Call
from askpro.runtime import Runtime
from tests.fixtures.booking import DAY, NOW, Salon, local


async def _call(database: Database, salon: Salon, call_id: str) -> int:
    async with database.sessions() as session:
        call = Call(call_id=call_id, company_id=salon.company.id)
        session.add(call)
        await session.commit()
        return call.id


def _request(salon: Salon, call_row_id: int | None, hour: int = 10) -> BookRequest:
    return BookRequest(
        company_id=salon.company.id,
        service_id=salon.colouring.id,
        staff_id=salon.anna.id,
        start=local(DAY, hour),
        call_row_id=call_row_id,
    )


async def test_fresh_hold_blocks_others_expired_hold_does_not(
    database: Database, salon: Salon
) -> None:
    holder = await _call(database, salon, "holder")
    held = await hold(database, _request(salon, holder), gateway=None, now=NOW)
    assert held.outcome is Outcome.AVAILABLE
    other = await _call(database, salon, "other")
    blocked = await book(database, _request(salon, other), gateway=None, now=NOW)
    assert blocked.outcome is Outcome.SLOT_TAKEN
    later = NOW + dt.timedelta(minutes=6)  # the 5-minute hold has expired
    taken = await book(database, _request(salon, other), gateway=None, now=later)
    assert taken.outcome is Outcome.BOOKED
    async with database.sessions() as session:
        rows = (await session.execute(select(Appointment).order_by(Appointment.id))).scalars().all()
        assert [(row.status, row.cancellation_reason) for row in rows] == [
            ("cancelled", "hold_expired"),
            ("booked", None),
        ]
    # The first caller's "book it" now hears the truth, with alternatives.
    late = await book(database, _request(salon, holder), gateway=None, now=later)
    assert late.outcome is Outcome.SLOT_TAKEN
    assert late.alternatives


async def test_a_call_holds_one_slot_and_books_what_it_holds(
    database: Database, salon: Salon
) -> None:
    caller = await _call(database, salon, "caller")
    await hold(database, _request(salon, caller, 10), gateway=None, now=NOW)
    again = await hold(database, _request(salon, caller, 10), gateway=None, now=NOW)
    assert again.outcome is Outcome.AVAILABLE  # holding the same slot again extends it
    await hold(database, _request(salon, caller, 14), gateway=None, now=NOW)
    booked = await book(database, _request(salon, caller, 14), gateway=None, now=NOW)
    assert booked.outcome is Outcome.BOOKED
    async with database.sessions() as session:
        rows = (await session.execute(select(Appointment).order_by(Appointment.id))).scalars().all()
        assert [(row.status, row.cancellation_reason) for row in rows] == [
            ("cancelled", "hold_released"),
            ("booked", None),
        ]
        assert rows[1].call_id == caller


async def test_periodic_job_expires_old_holds(runtime: Runtime, salon: Salon) -> None:
    caller = await _call(runtime.database, salon, "gone")
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    await hold(runtime.database, _request(salon, caller), gateway=None, now=past)
    assert await tasks.expire_holds(timestamp=0) == 1
    assert await tasks.expire_holds(timestamp=0) == 0
    async with runtime.database.sessions() as session:
        row = (await session.execute(select(Appointment))).scalar_one()
        assert (row.status, row.cancellation_reason) == ("cancelled", "hold_expired")
