"""Demo mode: with no Cal.com key, the stand-in is mounted in the app at /_calcom."""

from __future__ import annotations

import httpx

from askpro.app import create_app
from askpro.config import Settings
from askpro.integrations.calcom.service import standin_settings
from askpro.integrations.calcom.standin import STANDIN_API_KEY
from askpro.runtime import Runtime


async def test_standin_is_mounted_and_settings_point_at_it(
    settings: Settings, runtime: Runtime
) -> None:
    demo = standin_settings(settings, host="0.0.0.0", port=8123)
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
