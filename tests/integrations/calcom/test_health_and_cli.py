"""GET /api/health/calcom, `askpro calcom health` and `askpro calcom warm-cache`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from askpro.app import create_app
from askpro.config import Settings
from askpro.db import Database
from askpro.integrations.calcom.service import close_all_clients
from askpro.integrations.calcom.standin.server import RunningStandin
from askpro.runtime import Runtime
from tests.fixtures import factories


@pytest.fixture
async def health_client(
    settings: Settings, runtime: Runtime, calcom_standin: RunningStandin
) -> AsyncIterator[httpx.AsyncClient]:
    configured = settings.model_copy(
        update={
            "calcom_api_base": calcom_standin.base_url,
            "calcom_api_key": SecretStr(calcom_standin.api_key),
        }
    )
    app = create_app(runtime=Runtime(configured, runtime.database))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://askpro.test"
    ) as client:
        yield client
    await close_all_clients()


async def test_health_reports_each_account_and_200_when_healthy(
    health_client: httpx.AsyncClient,
) -> None:
    answer = await health_client.get("/api/health/calcom")
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["status"] == "ok"
    [account] = report["accounts"]
    assert account["reachable"] is True
    assert account["breaker"] == "closed"
    assert account["latency_ms"] >= 0
    assert account["rate_budget_remaining"] == 119
    assert "cal_test" not in answer.text  # the key never appears


async def test_health_is_503_when_calcom_is_down(
    health_client: httpx.AsyncClient, calcom_standin: RunningStandin
) -> None:
    calcom_standin.state.faults.down = True
    answer = await health_client.get("/api/health/calcom")
    assert answer.status_code == 503
    [account] = answer.json()["accounts"]
    assert account["reachable"] is False
    assert "CalcomUnavailableError" in account["error"]


async def test_health_without_accounts_is_not_configured(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/health/calcom")
    assert answer.status_code == 200
    assert answer.json() == {"status": "not_configured", "standin": False, "accounts": []}


def _askpro(
    database_url: str, standin: RunningStandin, *args: str
) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "ASKPRO_DATABASE_URL": database_url,
        "ASKPRO_LOG_JSON": "false",
        "ASKPRO_LOG_LEVEL": "WARNING",
        "ASKPRO_CALCOM_API_BASE": standin.base_url,
        "ASKPRO_CALCOM_API_KEY": standin.api_key,
        "ASKPRO_REDIS_URL": "",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "askpro", "calcom", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_health(database_url: str, calcom_standin: RunningStandin) -> None:
    result = _askpro(database_url, calcom_standin, "health", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "ok"
    calcom_standin.state.faults.down = True
    result = _askpro(database_url, calcom_standin, "health")
    assert result.returncode == 1
    assert "unavailable" in result.stdout


async def test_cli_warm_cache_fills_event_types_schedules_and_7_days_of_slots(
    database_url: str, database: Database, calcom_standin: RunningStandin
) -> None:
    async with database.sessions() as session:
        company = await factories.create_company(session, name="Warm Salon")
        await factories.create_service(session, company, calcom_event_type_id=1001)
        await factories.create_service(session, company, calcom_event_type_id=1003)
        await session.commit()
    result = _askpro(database_url, calcom_standin, "warm-cache", "--company", str(company.id))
    assert result.returncode == 0, result.stderr
    assert "cached 14 slot ranges" in result.stdout
    paths = [r.path for r in calcom_standin.state.requests]
    assert paths.count("/v2/event-types") == 1
    assert paths.count("/v2/schedules") == 1
    slot_requests = [r for r in calcom_standin.state.requests if r.path == "/v2/slots"]
    assert sorted({r.query["eventTypeId"] for r in slot_requests}) == ["1001", "1003"]
    assert len(slot_requests) == 14
    assert "ASKPRO_REDIS_URL is not set" in result.stderr, "a warning, not a result: stderr"


def test_calcom_commands_explain_themselves() -> None:
    for command in (
        ["calcom", "--help"],
        ["calcom", "health", "--help"],
        ["calcom", "warm-cache", "--help"],
        ["calcom", "map", "--help"],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "askpro", *command],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "Usage" in result.stdout


async def test_cli_map_links_each_stylists_event_types_and_the_team_round_robin(
    database_url: str, database: Database, calcom_standin: RunningStandin
) -> None:
    from sqlalchemy import select

    from askpro.models import Service, Staff, StaffService

    async with database.sessions() as session:
        company = await factories.create_company(session, name="Map Salon", calcom_team_id=100)
        anna = await factories.create_staff(session, company, name="Anna")
        anna.calcom_username = "anna-salon-demo"
        nobody = await factories.create_staff(session, company, name="Nobody")
        haircut = await factories.create_service(
            session, company, name="Haircut", staff=[anna, nobody]
        )
        await session.commit()
    dry = _askpro(database_url, calcom_standin, "map", "--company", str(company.id), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "2 link(s) would change" in dry.stdout
    assert "Nobody: no calcom_username" in dry.stderr  # warnings go to stderr, the table to stdout
    assert "hosts [12] are no staff member's calcom_user_id" in dry.stderr
    async with database.sessions() as session:
        assert await session.scalar(select(Service.calcom_event_type_id)) is None
    done = _askpro(database_url, calcom_standin, "map", "--company", str(company.id))
    assert done.returncode == 0, done.stderr
    assert "linked 2 event type(s)" in done.stdout
    async with database.sessions() as session:
        links = dict(
            (
                await session.execute(
                    select(StaffService.staff_id, StaffService.calcom_event_type_id)
                )
            ).all()
        )
        assert links == {anna.id: 2001, nobody.id: None}
        assert (
            await session.scalar(
                select(Service.calcom_event_type_id).where(Service.id == haircut.id)
            )
            == 3001
        )
        assert await session.scalar(select(Staff.calcom_user_id).where(Staff.id == anna.id)) == 11
