"""The Cal.com sync outbox against the stand-in over real HTTP."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, text

from askpro.booking import service, tasks
from askpro.booking.calcom_gateway import CalcomGateway, idempotency_key
from askpro.booking.gateway import GATEWAY_FACTORY_KEY
from askpro.booking.schemas import Outcome
from askpro.booking.service import BookRequest, book
from askpro.db import Database
from askpro.integrations.calcom.cache import CalcomCache
from askpro.integrations.calcom.client import IDEMPOTENCY_METADATA_KEY, CalcomClient, RetryPolicy
from askpro.integrations.calcom.standin.server import RunningStandin
from askpro.models import Appointment, AppointmentEvent
from askpro.runtime import Runtime
from tests.fixtures.booking import DAY, Salon, local
from tests.fixtures.calcom import calcom_standin

__all__ = ["calcom_standin"]


@pytest.fixture
async def gateway(calcom_standin: RunningStandin) -> AsyncIterator[CalcomGateway]:
    cache = CalcomCache(None, slots_ttl=60)
    client = CalcomClient(
        calcom_standin.base_url,
        calcom_standin.api_key,
        retry=RetryPolicy(attempts=1, wait_initial=0.01, wait_max=0.02, wait_jitter=0.0),
        cache=cache,
    )
    yield CalcomGateway(client)
    await client.aclose()
    await cache.close()


def _request(salon: Salon, hour: int, **fields: object) -> BookRequest:
    return BookRequest(
        company_id=salon.company.id,
        service_id=salon.haircut.id,
        start=local(DAY, hour),
        **fields,  # type: ignore[arg-type]
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def test_booking_is_synced_within_the_budget(
    database: Database,
    salon: Salon,
    gateway: CalcomGateway,
    calcom_standin: RunningStandin,
    queue: None,
) -> None:
    result = await book(database, _request(salon, 10), gateway=gateway, now=_now())
    assert result.outcome is Outcome.BOOKED, result
    assert result.appointment.calcom_sync_state == "synced"
    uid = result.appointment.calcom_booking_uid
    remote = calcom_standin.state.bookings[uid]
    assert remote["metadata"][IDEMPOTENCY_METADATA_KEY] == idempotency_key(result.appointment.id)
    assert remote["start"].startswith(local(DAY, 10).strftime("%Y-%m-%dT%H:%M"))


async def test_calcom_down_books_locally_then_the_job_syncs(
    runtime: Runtime, salon: Salon, gateway: CalcomGateway, calcom_standin: RunningStandin
) -> None:
    database = runtime.database
    calcom_standin.state.faults.down = True
    result = await book(database, _request(salon, 11), gateway=gateway, now=_now())
    assert result.outcome is Outcome.PENDING_CONFIRMATION
    assert result.appointment.status == "booked"
    assert result.appointment.calcom_sync_state == "pending"
    async with database.sessions() as session:
        jobs = await session.execute(
            text(
                "SELECT args FROM procrastinate_jobs WHERE task_name = 'askpro.booking.sync_appointment'"
            )
        )
        assert [row[0]["appointment_id"] for row in jobs] == [result.appointment.id]
    runtime.extras[GATEWAY_FACTORY_KEY] = lambda company, settings: gateway
    with pytest.raises(Exception, match="calendar unavailable"):
        await tasks.sync_appointment(appointment_id=result.appointment.id)  # still down: retried
    calcom_standin.state.faults.down = False
    assert await tasks.sync_appointment(appointment_id=result.appointment.id) == "synced"
    async with database.sessions() as session:
        row = await session.get(Appointment, result.appointment.id)
        assert row.status == "booked"
        assert row.calcom_sync_state == "synced"
        assert row.calcom_booking_uid in calcom_standin.state.bookings
        assert row.calcom_sync_error is None
    assert len(calcom_standin.state.bookings) == 1


async def test_interrupted_push_is_linked_not_duplicated(
    runtime: Runtime, salon: Salon, gateway: CalcomGateway, calcom_standin: RunningStandin
) -> None:
    """The caller's budget ran out while Cal.com was creating: the job links, never re-creates."""
    calcom_standin.state.faults.latency_seconds = 0.5
    result = await book(
        runtime.database, _request(salon, 12), gateway=gateway, now=_now(), sync_budget_seconds=0.2
    )
    assert result.outcome is Outcome.PENDING_CONFIRMATION
    calcom_standin.state.faults.latency_seconds = 0
    import asyncio

    await asyncio.sleep(0.6)  # the abandoned request completes inside the stand-in
    runtime.extras[GATEWAY_FACTORY_KEY] = lambda company, settings: gateway
    assert await tasks.sync_appointment(appointment_id=result.appointment.id) == "linked"
    live = [b for b in calcom_standin.state.bookings.values() if b["status"] == "accepted"]
    assert len(live) == 1
    async with runtime.database.sessions() as session:
        kinds = (
            (
                await session.execute(
                    select(AppointmentEvent.kind).where(
                        AppointmentEvent.appointment_id == result.appointment.id
                    )
                )
            )
            .scalars()
            .all()
        )
        assert "calcom_linked" in kinds


async def test_calcom_conflict_cancels_locally_and_offers_alternatives(
    database: Database,
    salon: Salon,
    gateway: CalcomGateway,
    calcom_standin: RunningStandin,
    queue: None,
) -> None:
    # Our cached view of the day says 13:00 is free ...
    await gateway.slots(1001, 30, local(DAY, 0), local(DAY, 23), "Europe/Berlin")
    # ... then somebody books 13:00 directly in Cal.com.
    state = calcom_standin.state
    state.new_booking(
        state.event_types[1001],
        local(DAY, 13),
        {"name": "Walk-in", "email": "walk@example.com", "timeZone": "Europe/Berlin"},
    )
    result = await book(database, _request(salon, 13), gateway=gateway, now=_now())
    assert result.outcome is Outcome.SLOT_TAKEN
    assert result.reason == "calcom_conflict"
    assert 1 <= len(result.alternatives) <= 3
    assert all(slot.start != local(DAY, 13) for slot in result.alternatives)
    async with database.sessions() as session:
        row = await session.get(Appointment, result.appointment.id)
        assert row.status == "cancelled"
        assert row.cancellation_reason == "calcom_conflict"


async def test_reschedule_and_cancel_follow_to_calcom(
    database: Database,
    salon: Salon,
    gateway: CalcomGateway,
    calcom_standin: RunningStandin,
    queue: None,
) -> None:
    booked = await book(database, _request(salon, 14), gateway=gateway, now=_now())
    first_uid = booked.appointment.calcom_booking_uid
    change = service.ChangeRequest(
        company_id=salon.company.id, appointment_id=booked.appointment.id
    )
    moved = await service.reschedule(database, change, local(DAY, 15), gateway=gateway, now=_now())
    assert moved.outcome is Outcome.RESCHEDULED, moved
    assert moved.appointment.calcom_sync_state == "synced"
    new_uid = moved.appointment.calcom_booking_uid
    assert new_uid != first_uid
    assert calcom_standin.state.bookings[first_uid]["status"] == "cancelled"
    assert calcom_standin.state.bookings[new_uid]["start"].startswith(
        local(DAY, 15).strftime("%Y-%m-%dT%H:%M")
    )
    cancelled = await service.cancel(database, change, gateway=gateway)
    assert cancelled.outcome is Outcome.CANCELLED
    assert calcom_standin.state.bookings[new_uid]["status"] == "cancelled"
    again = await service.cancel(database, change, gateway=gateway)
    assert again.outcome is Outcome.CANCELLED
    assert again.replayed


async def test_resync_sweeper_redefers_stale_pending_syncs_once(
    runtime: Runtime, salon: Salon
) -> None:
    from tests.fixtures.factories import create_appointment

    async with runtime.database.sessions() as session:
        stale = await create_appointment(
            session, salon.company, salon.anna, salon.haircut, local(DAY, 9),
            calcom_sync_state="pending",
        )  # fmt: skip
        await session.execute(
            text("UPDATE appointments SET updated_at = now() - interval '1 hour' WHERE id = :id"),
            {"id": stale.id},
        )
        await session.commit()
    assert await tasks.resync_pending(timestamp=0) == 1
    assert await tasks.resync_pending(timestamp=0) == 0  # already queued: not piled up
    async with runtime.database.sessions() as session:
        jobs = await session.execute(
            text("SELECT args FROM procrastinate_jobs WHERE task_name = :name"),
            {"name": "askpro.booking.sync_appointment"},
        )
        assert [row[0]["appointment_id"] for row in jobs] == [stale.id]


async def test_calendar_already_holding_the_booking_is_linked_and_said_so(
    database: Database, salon: Salon, queue: None
) -> None:
    from askpro.booking.gateway import BookingPush, CalendarBooking
    from tests.fixtures.booking import FakeCalendar

    class RepeatingCalendar(FakeCalendar):
        async def create(self, push: BookingPush) -> CalendarBooking:
            return CalendarBooking("uid-from-an-earlier-attempt", existing=True)

    result = await book(database, _request(salon, 16), gateway=RepeatingCalendar(), now=_now())
    assert result.outcome is Outcome.ALREADY_BOOKED
    assert result.reason == "calcom_existing"
    assert result.appointment.calcom_booking_uid == "uid-from-an-earlier-attempt"
    assert result.appointment.calcom_sync_state == "synced"
    async with database.sessions() as session:
        count = await session.execute(text("SELECT count(*) FROM appointments"))
        assert count.scalar_one() == 1
