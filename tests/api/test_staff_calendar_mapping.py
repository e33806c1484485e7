"""The staff-level Cal.com mapping through the REST API: who is which Cal.com user, which
event type is whose calendar for a service, and the team whose schedules say who works."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.fixtures.auth import create_token
from tests.fixtures.factories import create_company, create_service, create_staff


async def test_staff_and_service_mapping_round_trip(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company = await create_company(session, name="Salon Map")
    anna = await create_staff(session, company, name="Anna")
    ben = await create_staff(session, company, name="Ben")
    haircut = await create_service(
        session, company, name="Haircut", duration_minutes=30, staff=[anna, ben]
    )
    token = await create_token(session, company)
    platform = await create_token(session, None)
    await session.commit()
    headers = token.headers

    patched = await api.patch(
        f"/api/v1/staff/{anna.id}",
        json={"calcom_user_id": 11, "calcom_username": "anna-salon-demo"},
        headers=headers,
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["calcom_user_id"], patched.json()["calcom_username"]) == (
        11,
        "anna-salon-demo",
    )
    bad = await api.patch(
        f"/api/v1/staff/{anna.id}", json={"calcom_username": "no spaces"}, headers=headers
    )
    assert bad.status_code == 422

    linked = await api.patch(
        f"/api/v1/services/{haircut.id}/staff/{anna.id}",
        json={"calcom_event_type_id": 2001},
        headers=headers,
    )
    assert linked.status_code == 200, linked.text
    members = {m["name"]: m["calcom_event_type_id"] for m in linked.json()}
    assert members == {"Anna": 2001, "Ben": None}

    # Setting who performs the service keeps the links of those who stay.
    kept = await api.put(
        f"/api/v1/services/{haircut.id}/staff", json={"staff_ids": [anna.id]}, headers=headers
    )
    assert [(m["name"], m["calcom_event_type_id"]) for m in kept.json()] == [("Anna", 2001)]
    listed = await api.get(f"/api/v1/services/{haircut.id}/staff", headers=headers)
    assert [(m["name"], m["calcom_event_type_id"]) for m in listed.json()] == [("Anna", 2001)]
    not_performing = await api.patch(
        f"/api/v1/services/{haircut.id}/staff/{ben.id}",
        json={"calcom_event_type_id": 2011},
        headers=headers,
    )
    assert not_performing.status_code == 404

    team = await api.patch(
        f"/api/v1/companies/{company.id}", json={"calcom_team_id": 100}, headers=platform.headers
    )
    assert team.status_code == 200, team.text
    assert team.json()["calcom_team_id"] == 100
