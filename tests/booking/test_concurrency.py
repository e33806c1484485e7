"""No double booking, ever: real concurrency over separate connections."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select, text

from askpro.booking.schemas import Outcome
from askpro.booking.service import BookRequest, book
from askpro.booking.service import _book as booking_service
from askpro.db import Database
from askpro.models import Appointment, AppointmentEvent
from tests.fixtures.booking import DAY, NOW, Salon, build_salon, local
from tests.fixtures.factories import create_service

OVERLAPS = """
SELECT count(*) FROM appointments a JOIN appointments b
  ON a.id < b.id AND a.staff_id = b.staff_id
 AND a.status IN ('held', 'booked') AND b.status IN ('held', 'booked')
 AND tstzrange(a.blocks_from, a.blocks_until) && tstzrange(b.blocks_from, b.blocks_until)
"""


async def _race(wide: Database, salon: Salon, service_id: int, starts: list[dt.datetime]):
    requests = [
        BookRequest(
            company_id=salon.company.id,
            service_id=service_id,
            staff_id=salon.anna.id,
            start=start,
            actor=f"caller-{index}",
        )
        for index, start in enumerate(starts)
    ]
    return await asyncio.gather(*(book(wide, r, gateway=None, now=NOW) for r in requests))


async def _assert_one_winner(wide: Database, results) -> None:
    outcomes = [result.outcome for result in results]
    assert outcomes.count(Outcome.BOOKED) == 1, outcomes
    assert outcomes.count(Outcome.SLOT_TAKEN) == len(results) - 1
    for result in results:
        if result.outcome is Outcome.SLOT_TAKEN:
            assert 1 <= len(result.alternatives) <= 3
    async with wide.sessions() as session:
        assert (await session.execute(text(OVERLAPS))).scalar_one() == 0
        live = await session.execute(
            select(func.count()).select_from(Appointment).where(Appointment.status == "booked")
        )
        assert live.scalar_one() == 1
        events = await session.execute(select(func.count()).select_from(AppointmentEvent))
        assert events.scalar_one() == 1


async def test_fifty_callers_same_slot_one_wins(wide_database: Database, salon: Salon) -> None:
    results = await _race(wide_database, salon, salon.colouring.id, [local(DAY, 10)] * 50)
    await _assert_one_winner(wide_database, results)
    winner = next(r for r in results if r.outcome is Outcome.BOOKED)
    assert winner.appointment is not None
    assert winner.appointment.start == local(DAY, 10)
    # Alternatives are really free and never the taken slot.
    loser = next(r for r in results if r.outcome is Outcome.SLOT_TAKEN)
    assert all(slot.start != local(DAY, 10) for slot in loser.alternatives)


async def test_fifty_callers_overlapping_ranges_one_wins(
    wide_database: Database, salon: Salon
) -> None:
    # 60-minute service; starts 10:00/10:15/10:30/10:45 all overlap each other.
    starts = [local(DAY, 10, 15 * (index % 4)) for index in range(50)]
    results = await _race(wide_database, salon, salon.colouring.id, starts)
    await _assert_one_winner(wide_database, results)


async def test_fifty_callers_ranges_that_touch_only_through_buffers(
    wide_database: Database, salon: Salon
) -> None:
    async with wide_database.sessions() as session:
        buffered = await create_service(
            session,
            salon.company,
            name="Buffered",
            duration_minutes=30,
            buffer_before_minutes=15,
            buffer_after_minutes=15,
            staff=[salon.anna],
        )
        await session.commit()
    # 10:00-10:30 and 10:45-11:15 do not overlap, but their buffered ranges do.
    starts = [local(DAY, 10, 0 if index % 2 else 45) for index in range(50)]
    results = await _race(wide_database, salon, buffered.id, starts)
    await _assert_one_winner(wide_database, results)


async def test_same_idempotency_key_five_times_books_once(
    wide_database: Database, salon: Salon
) -> None:
    request = BookRequest(
        company_id=salon.company.id,
        service_id=salon.colouring.id,
        start=local(DAY, 11),
        idempotency_key="retry-me",
    )
    results = await asyncio.gather(
        *(book(wide_database, request, gateway=None, now=NOW) for _ in range(5))
    )
    ids = {result.appointment.id for result in results if result.appointment}
    assert len(ids) == 1
    assert all(result.outcome is Outcome.BOOKED for result in results)
    assert sum(result.replayed for result in results) == 4
    async with wide_database.sessions() as session:
        count = await session.execute(select(func.count()).select_from(Appointment))
        assert count.scalar_one() == 1


async def test_fault_between_insert_and_history_leaves_nothing_and_releases_locks(
    database: Database, salon: Salon, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Boom(RuntimeError):
        pass

    async def fail(_appointment: Appointment) -> None:
        raise Boom("injected fault")

    monkeypatch.setattr(booking_service, "after_insert_hook", fail)
    request = BookRequest(
        company_id=salon.company.id,
        service_id=salon.colouring.id,
        staff_id=salon.anna.id,
        start=local(DAY, 12),
    )
    with pytest.raises(Boom):
        await book(database, request, gateway=None, now=NOW)
    async with database.sessions() as session:
        for model in (Appointment, AppointmentEvent):
            count = await session.execute(select(func.count()).select_from(model))
            assert count.scalar_one() == 0
    monkeypatch.setattr(booking_service, "after_insert_hook", None)
    # The advisory lock died with the transaction: the same staff books at once.
    result = await asyncio.wait_for(book(database, request, gateway=None, now=NOW), 2)
    assert result.outcome is Outcome.BOOKED


async def test_any_qualified_staff_takes_the_slot(database: Database, salon: Salon) -> None:
    request = BookRequest(
        company_id=salon.company.id, service_id=salon.colouring.id, start=local(DAY, 14)
    )
    first = await book(database, request, gateway=None, now=NOW)
    second = await book(database, request, gateway=None, now=NOW)
    third = await book(database, request, gateway=None, now=NOW)
    assert first.outcome is second.outcome is Outcome.BOOKED
    assert {first.appointment.staff_id, second.appointment.staff_id} == {
        salon.anna.id,
        salon.ben.id,
    }
    assert third.outcome is Outcome.SLOT_TAKEN


async def test_second_company_is_not_affected(database: Database, salon: Salon) -> None:
    other = await build_salon(database, number="+4930555000299")
    for current in (salon, other):
        result = await book(
            database,
            BookRequest(
                company_id=current.company.id,
                service_id=current.colouring.id,
                staff_id=current.anna.id,
                start=local(DAY, 15),
            ),
            gateway=None,
            now=NOW,
        )
        assert result.outcome is Outcome.BOOKED


async def test_concurrent_reschedules_into_one_slot_one_wins(
    wide_database: Database, salon: Salon
) -> None:
    from askpro.booking.service import ChangeRequest, reschedule

    ids = []
    for hour in range(9, 19, 2):  # five appointments of Anna's, 2 h apart
        result = await book(
            wide_database,
            BookRequest(
                company_id=salon.company.id,
                service_id=salon.colouring.id,
                staff_id=salon.anna.id,
                start=local(DAY, hour),
            ),
            gateway=None,
            now=NOW,
        )
        ids.append(result.appointment.id)
    target = local(DAY, 10)  # free between the 9:00 and the 11:00 appointment
    results = await asyncio.gather(
        *(
            reschedule(
                wide_database,
                ChangeRequest(company_id=salon.company.id, appointment_id=appointment_id),
                target,
                gateway=None,
                now=NOW,
            )
            for appointment_id in ids
        )
    )
    outcomes = sorted(result.outcome.value for result in results)
    assert outcomes == ["rescheduled", "slot_taken", "slot_taken", "slot_taken", "slot_taken"]
    async with wide_database.sessions() as session:
        assert (await session.execute(text(OVERLAPS))).scalar_one() == 0
        starts = (await session.execute(select(Appointment.starts_at))).scalars().all()
        assert len(starts) == 5
        assert starts.count(target) == 1
