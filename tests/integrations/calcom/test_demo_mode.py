"""Demo mode: with no Cal.com key, the stand-in is mounted in the app at /_calcom."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from askpro.app import create_app
from askpro.config import Settings
from askpro.db import Database
from askpro.integrations.calcom.service import (
    calcom_client_for,
    close_all_clients,
    standin_settings,
)
from askpro.integrations.calcom.standin import STANDIN_API_KEY
from askpro.integrations.calcom.standin.server import serve_in_thread
from askpro.models import Company
from askpro.runtime import Runtime
from askpro.tenancy.demo import seed_demo_company
from tests.integrations.calcom.helpers import booking_request, next_weekday_at


async def test_standin_is_mounted_and_settings_point_at_it(
    settings: Settings, runtime: Runtime, tmp_path: Path
) -> None:
    demo = standin_settings(settings, host="0.0.0.0", port=8123).model_copy(
        update={"data_dir": tmp_path}  # the stand-in keeps its bookings there
    )
    assert demo.calcom_standin
    assert demo.calcom_api_base == "http://127.0.0.1:8123/_calcom"
    assert demo.calcom_api_key is not None
    assert demo.calcom_api_key.get_secret_value() == STANDIN_API_KEY
    app = create_app(demo, runtime=Runtime(demo, runtime.database))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://askpro.test"
    ) as http:
        answer = await http.get(
            "/_calcom/v2/event-types",
            headers={"Authorization": f"Bearer {STANDIN_API_KEY}", "cal-api-version": "2024-06-14"},
        )
    assert answer.status_code == 200
    assert [et["id"] for et in answer.json()["data"]] == [1001, 1002, 1003]


async def test_standin_is_not_mounted_by_default(client: httpx.AsyncClient) -> None:
    answer = await client.get("/_calcom/v2/event-types")
    assert answer.status_code == 404


async def test_demo_server_books_through_its_own_standin(
    settings: Settings, runtime: Runtime, database: Database, tmp_path: Path
) -> None:
    """`askpro serve --demo` without a key: the client's base URL is the server itself."""
    holder: dict[str, Settings] = {}

    def make_app(port: int) -> FastAPI:
        holder["settings"] = standin_settings(settings, host="127.0.0.1", port=port).model_copy(
            update={"data_dir": tmp_path}
        )
        demo = holder["settings"]
        return create_app(demo, runtime=Runtime(demo, runtime.database))

    served = serve_in_thread(make_app)
    try:
        async with database.sessions() as session:
            seeded = await seed_demo_company(session)
            company = await session.get(Company, seeded.company_id)
            await session.commit()
        assert company is not None
        client = calcom_client_for(company, holder["settings"])
        assert client is not None
        assert client.base_url == f"{served.base_url}/_calcom"
        titles = {et.id: et.title for et in await client.get_event_types()}
        assert titles == {1001: "Haircut", 1002: "Colouring", 1003: "Beard trim"}
        start = next_weekday_at(10)
        booking = await client.create_booking(booking_request(start))
        assert booking.status == "accepted"
    finally:
        await close_all_clients()
        served.stop()
