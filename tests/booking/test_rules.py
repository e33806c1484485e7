"""Minimum notice (company default, per-service override) and the booking horizon."""

from __future__ import annotations

import datetime as dt

from askpro.booking.schemas import Outcome
from askpro.booking.service import BookRequest, book, free_slots, load_context
from askpro.db import Database
from askpro.models import Service
from tests.fixtures.booking import DAY, Salon, local

NOW = local(DAY, 10)  # Wednesday 10:00 Berlin


def _request(salon: Salon, start: dt.datetime) -> BookRequest:
    return BookRequest(company_id=salon.company.id, service_id=salon.colouring.id, start=start)


async def test_company_notice_then_service_override(database: Database, salon: Salon) -> None:
    inside = await book(database, _request(salon, local(DAY, 10, 0)), gateway=None, now=NOW)
    assert inside.outcome is Outcome.TOO_SOON  # 15 min notice: 10:00 is not bookable at 10:00
    assert inside.alternatives
    assert all(slot.start >= NOW + dt.timedelta(minutes=15) for slot in inside.alternatives)
    assert (
        await book(database, _request(salon, local(DAY, 10, 30)), gateway=None, now=NOW)
    ).outcome is Outcome.BOOKED
    async with database.sessions() as session:
        colouring = await session.get(Service, salon.colouring.id)
        colouring.minimum_notice_minutes = 180
        await session.commit()
    late = await book(database, _request(salon, local(DAY, 12)), gateway=None, now=NOW)
    assert late.outcome is Outcome.TOO_SOON
    async with database.sessions() as session:
        context = await load_context(session, salon.company.id, salon.colouring.id)
        slots = await free_slots(session, context, None, NOW, local(DAY, 18), now=NOW)
        assert slots
        assert min(slot.start for slot in slots) >= NOW + dt.timedelta(hours=3)


async def test_beyond_the_horizon_is_outside_hours(database: Database, salon: Salon) -> None:
    far = NOW + dt.timedelta(days=61)
    result = await book(database, _request(salon, far), gateway=None, now=NOW)
    assert result.outcome is Outcome.OUTSIDE_HOURS
    assert result.reason == "beyond_horizon"
