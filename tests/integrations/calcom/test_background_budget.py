"""Background work never eats the callers' rate budget; reconciliation stops on its own."""

from __future__ import annotations

import time

import pytest
from prometheus_client import REGISTRY

from askpro.config import Settings
from askpro.db import Database
from askpro.integrations.calcom.errors import CalcomRateLimitError
from askpro.integrations.calcom.ratelimit import RateLimiter, background_work
from askpro.integrations.calcom.service import calcom_client_for
from askpro.integrations.calcom.standin.server import RunningStandin
from askpro.integrations.calcom.sync.reconcile import (
    Account,
    accounts_to_reconcile,
    reconcile_account,
    reconcile_all,
)
from askpro.kit.crypto import SecretBox
from askpro.models import Company
from tests.fixtures import factories
from tests.integrations.calcom.helpers import next_weekday_at
from tests.integrations.calcom.test_reconcile import web_booking


def _stopped(reason: str) -> float:
    value = REGISTRY.get_sample_value("askpro_calcom_reconcile_stopped_total", {"reason": reason})
    return value or 0.0


def _list_requests(standin: RunningStandin) -> int:
    return sum(1 for r in standin.state.requests if r.method == "GET" and r.path == "/v2/bookings")


@pytest.fixture
async def company(
    database: Database, calcom_settings: Settings, calcom_standin: RunningStandin
) -> Company:
    box = SecretBox(calcom_settings.secret_key.get_secret_value())
    async with database.sessions() as session:
        company = await factories.create_company(
            session,
            name="Salon Budget",
            calcom_api_key_encrypted=box.encrypt(calcom_standin.api_key),
        )
        anna = await factories.create_staff(session, company, name="Anna")
        await factories.create_service(
            session, company, name="Haircut", duration_minutes=30, staff=[anna],
            calcom_event_type_id=1001,
        )  # fmt: skip
        await session.commit()
    return company


def _web_bookings(standin: RunningStandin, count: int) -> None:
    """``count`` bookings made on Cal.com's own booking page, each at its own time."""
    for index in range(count):
        week, slot = divmod(index, 16)
        web_booking(
            standin, next_weekday_at(9 + slot // 2, 30 * (slot % 2), days_ahead=7 * (week + 1))
        )


async def test_reconciliation_against_an_endless_server_stops_at_its_page_cap(
    database: Database,
    calcom_settings: Settings,
    calcom_standin: RunningStandin,
    company: Company,
) -> None:
    _web_bookings(calcom_standin, 30)
    calcom_standin.state.faults.endless_pages = True
    settings = calcom_settings.model_copy(update={"calcom_reconcile_max_pages": 3})
    before = _stopped("page_cap")
    async with database.sessions() as session:
        (account,) = await accounts_to_reconcile(session, settings)
    assert await reconcile_account(database, settings, account, page_size=5) == 15
    assert _list_requests(calcom_standin) == 3
    assert _stopped("page_cap") == before + 1


async def test_reconciliation_stops_when_a_page_brings_nothing_new(
    database: Database,
    calcom_settings: Settings,
    calcom_standin: RunningStandin,
    company: Company,
) -> None:
    _web_bookings(calcom_standin, 8)
    calcom_standin.state.faults.endless_pages = True
    calcom_standin.state.faults.ignore_skip = True  # every page is the first one again
    before = _stopped("nothing_new")
    async with database.sessions() as session:
        (account,) = await accounts_to_reconcile(session, calcom_settings)
    assert await reconcile_account(database, calcom_settings, account, page_size=5) == 5
    assert _list_requests(calcom_standin) == 2
    assert _stopped("nothing_new") == before + 1


async def test_live_calls_still_reach_calcom_after_reconciliation_used_its_share(
    database: Database,
    calcom_settings: Settings,
    calcom_standin: RunningStandin,
    company: Company,
) -> None:
    """Budget 20/min, background share half: an endless reconciliation (page cap 100)
    takes 10 requests and stops; the callers' 10 still reach Cal.com right after."""
    _web_bookings(calcom_standin, 30)
    calcom_standin.state.faults.endless_pages = True
    settings = calcom_settings.model_copy(
        update={"calcom_rate_limit_per_minute": 20, "calcom_reconcile_max_pages": 100}
    )
    async with database.sessions() as session:
        (account,) = await accounts_to_reconcile(session, settings)
    await reconcile_account_until_refused(database, settings, account)
    assert _list_requests(calcom_standin) == 10
    client = calcom_client_for(company, settings)
    assert client is not None
    start = next_weekday_at(9, days_ahead=35)  # a day the web bookings leave free
    for offset in range(10):
        end = next_weekday_at(17, days_ahead=35)
        slots = await client.get_slots(1001, start, end, duration_minutes=30 + offset)
        assert slots  # reached Cal.com (each duration is its own cache key)
    slot_requests = [r for r in calcom_standin.state.requests if r.path == "/v2/slots"]
    assert len(slot_requests) == 10


async def reconcile_account_until_refused(
    database: Database, settings: Settings, account: Account
) -> None:
    with pytest.raises(CalcomRateLimitError, match="background rate budget of 10"):
        await reconcile_account(database, settings, account, page_size=1)
    # reconcile_all logs it and goes on with the next account.
    assert await reconcile_all(database, settings) == 0


async def test_background_work_takes_at_most_its_share() -> None:
    limiter = RateLimiter("account", limit=10, background_share=0.5)
    deadline = time.monotonic() + 0.05
    with background_work():
        for _ in range(5):
            await limiter.acquire(deadline)
        with pytest.raises(CalcomRateLimitError):
            await limiter.acquire(deadline)
    for _ in range(5):  # the other half stays for callers
        await limiter.acquire(deadline)
    assert await limiter.remaining() == 0
