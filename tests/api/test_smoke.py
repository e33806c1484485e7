from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.fixtures.auth import create_token
from tests.fixtures.factories import create_company


async def test_branch_roundtrip(api: httpx.AsyncClient, session: AsyncSession) -> None:
    company = await create_company(session)
    token = await create_token(session, company)
    await session.commit()
    created = await api.post("/api/v1/branches", json={"name": "Mitte"}, headers=token.headers)
    assert created.status_code == 201, created.text
    listed = await api.get("/api/v1/branches", headers=token.headers)
    assert listed.status_code == 200, listed.text
    assert [b["name"] for b in listed.json()["items"]] == ["Mitte"]
    print(listed.headers)
    schema = (await api.get("/openapi.json")).json()
    print(schema["paths"]["/api/v1/branches"]["get"])
