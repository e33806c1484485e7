"""Cal.com webhook sync: real sample bodies stored in the inbox, the registered handlers run
one event per transaction, in order, out of order and repeated."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from askpro.db import Database
from askpro.models import (
    Appointment,
    AppointmentEvent,
    CalcomBooking,
    Company,
    Customer,
    Service,
    Staff,
    WebhookEvent,
)
from askpro.webhooks import registry
from tests.fixtures import factories
from tests.fixtures.calcom import add_calcom_webhook_event, sample_webhook_body

registry.load_handler_modules()

S1 = "2031-05-26T09:30:00Z"
S1_END = "2031-05-26T10:30:00Z"
S2 = "2031-05-27T14:00:00Z"
S2_END = "2031-05-27T15:00:00Z"


@dataclass
class Salon:
    company: Company
    service: Service
    first: Staff
    organizer: Staff


@pytest.fixture
async def salon(database: Database) -> Salon:
    async with database.sessions() as session:
        company = await factories.create_company(session, name="Salon Sync")
        first = await factories.create_staff(session, company, name="First")
        organizer = await factories.create_staff(session, company, name="Pro")
        organizer.email = "Pro@Example.com"
        service = await factories.create_service(
            session,
            company,
            name="60min",
            duration_minutes=60,
            buffer_after_minutes=10,
            staff=[first, organizer],
            calcom_event_type_id=7,  # the sample's eventTypeId
        )
        await session.commit()
        return Salon(company, service, first, organizer)


async def deliver(database: Database, body: dict[str, Any], company_id: int | None = None) -> None:
    """Store the webhook and run its handlers in one transaction, like the processing job.

    A body delivered again is deduplicated by the inbox; its row is processed again (a replay).
    """
    async with database.sessions() as session:
        raw = json.dumps(body).encode()
        event = await session.scalar(
            select(WebhookEvent).where(WebhookEvent.dedup_key == hashlib.sha256(raw).hexdigest())
        )
        if event is None:
            event = await add_calcom_webhook_event(session, body, company_id=company_id)
        handlers = registry.handlers_for("calcom", event.event_type)
        assert handlers, f"no handler registered for {event.event_type}"
        for handler in handlers:
            await handler(session, event)
        await session.commit()


def created(uid: str = "uidA") -> dict[str, Any]:
    return sample_webhook_body(
        "BOOKING_CREATED",
        created_at="2026-01-10T10:00:00.000Z",
        uid=uid,
        startTime=S1,
        endTime=S1_END,
    )


def rescheduled(new: str = "uidB", old: str = "uidA") -> dict[str, Any]:
    return sample_webhook_body(
        "BOOKING_RESCHEDULED",
        created_at="2026-01-11T10:00:00.000Z",
        uid=new,
        rescheduleUid=old,
        startTime=S2,
        endTime=S2_END,
        rescheduleStartTime=S1,
        rescheduleEndTime=S1_END,
        rescheduledBy="john.doe@example.com",
    )


def cancelled(uid: str = "uidB") -> dict[str, Any]:
    return sample_webhook_body(
        "BOOKING_CANCELLED",
        created_at="2026-01-12T10:00:00.000Z",
        uid=uid,
        startTime=S2,
        endTime=S2_END,
        status="CANCELLED",
        cancellationReason="feeling better",
        cancelledBy="john.doe@example.com",
    )


async def appointments(database: Database, company_id: int) -> list[Appointment]:
    async with database.sessions() as session:
        return list(
            await session.scalars(select(Appointment).where(Appointment.company_id == company_id))
        )


async def test_created_makes_a_booked_appointment_with_customer_and_organizer(
    database: Database, salon: Salon
) -> None:
    await deliver(database, created())
    [appointment] = await appointments(database, salon.company.id)
    assert appointment.status == "booked"
    assert appointment.calcom_booking_uid == "uidA"
    assert appointment.source == "calcom"
    assert appointment.staff_id == salon.organizer.id  # matched by organizer email
    assert appointment.service_id == salon.service.id
    assert appointment.starts_at == dt.datetime(2031, 5, 26, 9, 30, tzinfo=dt.UTC)
    assert appointment.blocks_until == dt.datetime(2031, 5, 26, 10, 40, tzinfo=dt.UTC)
    async with database.sessions() as session:
        customer = await session.get(Customer, appointment.customer_id)
        assert customer is not None
        assert (customer.name, customer.email) == ("John Doe", "john.doe@example.com")
        [history] = await session.scalars(select(AppointmentEvent))
        assert (history.channel, history.kind) == ("calcom", "calcom.created")


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
async def test_created_rescheduled_cancelled_in_any_order_end_the_same(
    database: Database, salon: Salon, order: tuple[int, ...]
) -> None:
    events = [created(), rescheduled(), cancelled()]
    for _round in range(2):  # the second round replays every event (same order): no change
        for index in order:
            await deliver(database, events[index])
        [appointment] = await appointments(database, salon.company.id)
        assert appointment.calcom_booking_uid == "uidB"
        assert appointment.status == "cancelled"
        assert appointment.starts_at == dt.datetime(2031, 5, 27, 14, 0, tzinfo=dt.UTC)
    async with database.sessions() as session:
        ledger = {row.uid: row for row in await session.scalars(select(CalcomBooking))}
        assert ledger["uidA"].rescheduled_to_uid == "uidB"
        assert ledger["uidA"].status == "cancelled"
        assert ledger["uidB"].status == "cancelled"
        assert ledger["uidB"].rescheduled_from_uid == "uidA"
        customers = await session.scalar(select(func.count()).select_from(Customer))
        assert customers == 1


@pytest.mark.parametrize("order", list(itertools.permutations(range(2))))
async def test_created_then_rescheduled_in_any_order_is_booked_at_the_new_time(
    database: Database, salon: Salon, order: tuple[int, ...]
) -> None:
    events = [created(), rescheduled()]
    for index in order:
        await deliver(database, events[index])
    [appointment] = await appointments(database, salon.company.id)
    assert (appointment.calcom_booking_uid, appointment.status) == ("uidB", "booked")
    assert appointment.starts_at == dt.datetime(2031, 5, 27, 14, 0, tzinfo=dt.UTC)


async def test_late_created_does_not_revive_a_cancelled_booking(
    database: Database, salon: Salon
) -> None:
    await deliver(database, cancelled("uidA"))
    await deliver(database, created("uidA"))
    [appointment] = await appointments(database, salon.company.id)
    assert appointment.status == "cancelled"


async def test_requested_is_booked_locally_and_pending_in_the_ledger(
    database: Database, salon: Salon
) -> None:
    body = created("uidR")
    body["triggerEvent"] = "BOOKING_REQUESTED"
    body["payload"]["status"] = "PENDING"
    await deliver(database, body)
    [appointment] = await appointments(database, salon.company.id)
    assert appointment.status == "booked"
    async with database.sessions() as session:
        row = await session.scalar(select(CalcomBooking).where(CalcomBooking.uid == "uidR"))
        assert row is not None
        assert row.status == "pending"


async def test_no_show_updated_marks_and_clears_the_no_show(
    database: Database, salon: Salon
) -> None:
    await deliver(database, created())
    no_show: dict[str, Any] = {
        "triggerEvent": "BOOKING_NO_SHOW_UPDATED",
        "createdAt": "2026-01-13T11:00:00.000Z",
        "payload": {
            "message": "x",
            "bookingUid": "uidA",
            "attendees": [{"email": "john.doe@example.com", "noShow": True}],
        },
    }
    await deliver(database, no_show)
    [appointment] = await appointments(database, salon.company.id)
    assert appointment.status == "no_show"
    older = {**no_show, "createdAt": "2026-01-13T10:59:00.000Z"}
    older["payload"] = {**no_show["payload"], "attendees": [{"email": "j", "noShow": False}]}
    await deliver(database, older)  # older than the applied one: ignored
    [appointment] = await appointments(database, salon.company.id)
    assert appointment.status == "no_show"
    newer = {**older, "createdAt": "2026-01-13T12:00:00.000Z"}
    await deliver(database, newer)
    [appointment] = await appointments(database, salon.company.id)
    assert appointment.status == "booked"


async def test_ping_changes_nothing(database: Database, salon: Salon) -> None:
    ping = {
        "triggerEvent": "PING",
        "createdAt": "2026-01-13T11:00:00.000Z",
        "payload": {"type": "Test", "title": "Test trigger event", "description": ""},
    }
    await deliver(database, ping)
    assert await appointments(database, salon.company.id) == []


async def test_unknown_event_type_or_company_creates_nothing(
    database: Database, salon: Salon
) -> None:
    body = created("uidX")
    body["payload"]["eventTypeId"] = 999_999
    await deliver(database, body)
    assert await appointments(database, salon.company.id) == []


async def test_busy_organizer_falls_back_to_another_qualified_staff(
    database: Database, salon: Salon
) -> None:
    async with database.sessions() as session:
        company = await session.get(Company, salon.company.id)
        organizer = await session.get(Staff, salon.organizer.id)
        service = await session.get(Service, salon.service.id)
        assert company is not None
        assert organizer is not None
        assert service is not None
        await factories.create_appointment(
            session, company, organizer, service, dt.datetime(2031, 5, 26, 9, 0, tzinfo=dt.UTC)
        )
        await session.commit()
    await deliver(database, created(), company_id=salon.company.id)
    synced = [a for a in await appointments(database, salon.company.id) if a.source == "calcom"]
    assert [a.staff_id for a in synced] == [salon.first.id]


async def test_local_pending_change_newer_than_the_event_wins(
    database: Database, salon: Salon
) -> None:
    await deliver(database, created())
    async with database.sessions() as session:
        appointment = await session.scalar(select(Appointment))
        assert appointment is not None
        appointment.status = "cancelled"  # cancelled here, not yet pushed to Cal.com
        appointment.calcom_sync_state = "pending"
        await session.commit()
    body = created()
    body["createdAt"] = "2026-01-10T10:05:00.000Z"  # a later (re-sent) event, still older
    await deliver(database, body)
    [appointment] = await appointments(database, salon.company.id)
    assert appointment.status == "cancelled"


async def test_every_required_trigger_is_registered() -> None:
    for trigger in (
        "BOOKING_CREATED",
        "BOOKING_RESCHEDULED",
        "BOOKING_CANCELLED",
        "BOOKING_REQUESTED",
        "BOOKING_NO_SHOW_UPDATED",
        "PING",
    ):
        assert registry.handlers_for("calcom", trigger), trigger
    assert "askpro.integrations.calcom.sync.handlers" in registry.HANDLER_MODULES


async def test_inbox_rows_are_untouched_by_handlers(database: Database, salon: Salon) -> None:
    await deliver(database, created())
    async with database.sessions() as session:
        [event] = await session.scalars(select(WebhookEvent))
        assert event.status == "received"  # status is the processing job's business


async def test_own_booking_echo_links_to_the_local_appointment_instead_of_doubling(
    database: Database, salon: Salon
) -> None:
    async with database.sessions() as session:
        company = await session.get(Company, salon.company.id)
        staff = await session.get(Staff, salon.first.id)
        service = await session.get(Service, salon.service.id)
        assert company is not None
        assert staff is not None
        assert service is not None
        mine = await factories.create_appointment(
            session, company, staff, service, dt.datetime(2031, 5, 26, 9, 30, tzinfo=dt.UTC),
            calcom_sync_state="pending", source="phone",
        )  # fmt: skip
        await session.commit()
    recent = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
    echo = created("uidMine")
    echo["createdAt"] = recent
    echo["payload"]["metadata"] = {
        "askproIdempotencyKey": "k1",
        "askproAppointmentId": str(mine.id),
    }
    await deliver(database, echo)
    [appointment] = await appointments(database, salon.company.id)
    assert appointment.id == mine.id
    assert appointment.calcom_booking_uid == "uidMine"

    # Our own booking whose appointment is not known yet (engine still committing): skipped.
    other = created("uidInFlight")
    other["createdAt"] = recent
    other["payload"]["startTime"], other["payload"]["endTime"] = S2, S2_END
    other["payload"]["metadata"] = {"askproIdempotencyKey": "k2"}
    await deliver(database, other)
    assert len(await appointments(database, salon.company.id)) == 1
