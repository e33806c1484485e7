"""Reconciliation repairs what dropped webhooks left out, against the stand-in over HTTP."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from askpro.config import Settings
from askpro.db import Database
from askpro.integrations.calcom.client import CalcomClient
from askpro.integrations.calcom.standin.server import RunningStandin
from askpro.integrations.calcom.sync.reconcile import reconcile_all
from askpro.kit.crypto import SecretBox
from askpro.models import Appointment, CalcomSyncCursor, Customer
from tests.fixtures import factories
from tests.integrations.calcom.helpers import next_weekday_at


@pytest.fixture
def standin_settings(calcom_settings: Settings) -> Settings:
    # Only the base URL matters here: the companies carry their own (encrypted) key.
    return calcom_settings.model_copy(update={"calcom_api_key": None})


@pytest.fixture
async def company_id(
    database: Database, standin_settings: Settings, calcom_standin: RunningStandin
) -> int:
    box = SecretBox(standin_settings.secret_key.get_secret_value())
    async with database.sessions() as session:
        company = await factories.create_company(
            session,
            name="Salon Reconcile",
            calcom_api_key_encrypted=box.encrypt(calcom_standin.api_key),
        )
        anna = await factories.create_staff(session, company, name="Anna")
        await factories.create_service(
            session, company, name="Haircut", duration_minutes=30, staff=[anna],
            calcom_event_type_id=1001,
        )  # fmt: skip
        await session.commit()
        return company.id


def web_booking(standin: RunningStandin, start: dt.datetime) -> str:
    attendee = {
        "name": "Web Booker",
        "email": "web@example.com",
        "timeZone": "Europe/Berlin",
        "phoneNumber": "+4915112345678",
    }
    with standin.state.lock:
        booking = standin.state.new_booking(standin.state.event_types[1001], start, attendee)
    return str(booking["uid"])


async def local(database: Database, company_id: int) -> dict[str | None, Appointment]:
    async with database.sessions() as session:
        rows = await session.scalars(
            select(Appointment).where(Appointment.company_id == company_id)
        )
        return {row.calcom_booking_uid: row for row in rows}


async def test_bookings_made_moved_and_cancelled_in_calcom_are_repaired(
    database: Database,
    standin_settings: Settings,
    company_id: int,
    calcom_client: CalcomClient,
    calcom_standin: RunningStandin,
) -> None:
    # Bookings made on Cal.com's own booking page (no askpro metadata), none of whose
    # webhooks arrived.
    kept = await calcom_client.get_booking(web_booking(calcom_standin, next_weekday_at(9)))
    moved_from = web_booking(calcom_standin, next_weekday_at(11))
    moved = await calcom_client.reschedule_booking(moved_from, next_weekday_at(14))
    gone = await calcom_client.get_booking(web_booking(calcom_standin, next_weekday_at(16)))
    await calcom_client.cancel_booking(gone.uid)

    assert await reconcile_all(database, standin_settings) >= 4
    appointments = await local(database, company_id)
    assert set(appointments) == {kept.uid, moved.uid, gone.uid}
    assert appointments[kept.uid].status == "booked"
    assert appointments[moved.uid].status == "booked"
    assert appointments[moved.uid].starts_at == next_weekday_at(14)
    assert appointments[gone.uid].status == "cancelled"
    async with database.sessions() as session:
        cursor = await session.get(CalcomSyncCursor, calcom_client.account)
        assert cursor is not None
        customers = list(await session.scalars(select(Customer)))
        assert [c.phone for c in customers] == ["+4915112345678"]  # found, not re-created

    # Another run changes nothing and duplicates nothing.
    await reconcile_all(database, standin_settings)
    assert set(await local(database, company_id)) == set(appointments)

    # A cancel whose webhook was dropped is repaired by the next run.
    await calcom_client.cancel_booking(kept.uid, reason="webhook lost")
    await reconcile_all(database, standin_settings)
    assert (await local(database, company_id))[kept.uid].status == "cancelled"


async def test_one_failing_account_does_not_stop_reconciliation(
    database: Database,
    standin_settings: Settings,
    company_id: int,
    calcom_standin: RunningStandin,
) -> None:
    calcom_standin.state.faults.errors = 100
    assert await reconcile_all(database, standin_settings) == 0
    async with database.sessions() as session:
        assert await session.scalar(select(CalcomSyncCursor)) is None
    calcom_standin.state.faults.errors = 0


async def test_reconcile_task_is_registered_and_periodic() -> None:
    from askpro import worker

    assert "askpro.integrations.calcom.sync.reconcile" in worker.TASK_MODULES
    import askpro.integrations.calcom.sync.reconcile  # noqa: F401

    assert "askpro.calcom.reconcile" in worker.app.tasks
    periodic_ids = {
        task.periodic_id for task in worker.app.periodic_registry.periodic_tasks.values()
    }
    assert "calcom_reconcile" in periodic_ids
