"""Company B never sees or changes company A's objects: 404 or an empty list, never data.

Generated from the route table: every tenant resource with an item route is covered.
"""

from __future__ import annotations

import datetime as dt
import re

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.api.route_table import RouteEntry
from askpro.auth.scopes import PLATFORM_SCOPES
from askpro.models import PhoneNumber
from tests.api.world import API_ROUTES, PARAMETER, example_body, route_id, target
from tests.fixtures.auth import create_token
from tests.fixtures.factories import create_company

TENANT_ITEM_READS = [
    entry
    for entry in API_ROUTES
    if entry.method == "GET"
    and PARAMETER.search(entry.path)
    and not set(entry.scopes or ()) & PLATFORM_SCOPES
]


def _writes_of(read: RouteEntry) -> list[RouteEntry]:
    """Writes of the item itself and its POST actions (``…/{id}/replay``, ``…/{id}/cancel``)."""
    action = re.compile(re.escape(read.path) + r"/[a-z][a-z-]*")
    return [
        e
        for e in API_ROUTES
        if (e.path == read.path and e.method != "GET")
        or (e.method == "POST" and action.fullmatch(e.path))
    ]


def _list_of(read: RouteEntry) -> RouteEntry | None:
    collection = read.path.rsplit("/", 1)[0]
    if PARAMETER.search(collection):
        return None
    return next((e for e in API_ROUTES if e.path == collection and e.method == "GET"), None)


@pytest.mark.parametrize("read", TENANT_ITEM_READS, ids=route_id)
async def test_other_company_gets_404_and_changes_nothing(
    read: RouteEntry, api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company_a = await create_company(session, name="A")
    company_b = await create_company(session, name="B")
    goal = await target(session, read, company_a)
    token_a = await create_token(session, company_a)
    token_b = await create_token(session, company_b)
    platform = await create_token(session, None)
    await session.commit()

    before = await api.get(goal.url, headers=token_a.headers)
    assert before.status_code == 200, before.text

    for headers in (token_b.headers, {**platform.headers, "X-Company-ID": str(company_b.id)}):
        seen = await api.get(goal.url, headers=headers)
        assert seen.status_code == 404, seen.text
        assert str(company_a.id) not in seen.text.replace(goal.url, "")
        for write in _writes_of(read):
            body = example_body(write)
            url = write.path.format(**goal.ids)
            changed = await api.request(write.method, url, json=body, headers=headers)
            assert changed.status_code == 404, f"{route_id(write)}: {changed.text}"
        listing = _list_of(read)
        if listing is not None:
            listed = await api.get(listing.path, headers=headers)
            assert listed.status_code == 200, listed.text
            assert listed.json()["items"] == [] or all(
                item.get("company_id") == company_b.id for item in listed.json()["items"]
            )

    after = await api.get(goal.url, headers=token_a.headers)
    assert after.status_code == 200
    assert after.json() == before.json()


async def test_list_filters_naming_another_companys_objects_return_nothing(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    from tests.fixtures import factories

    company_a = await create_company(session, name="A")
    company_b = await create_company(session, name="B")
    branch = await factories.create_branch(session, company_a)
    staff = await factories.create_staff(session, company_a, branch=branch)
    service = await factories.create_service(session, company_a, staff=[staff])
    await factories.create_appointment(
        session, company_a, staff, service, dt.datetime(2030, 1, 7, 9, tzinfo=dt.UTC)
    )
    session.add(PhoneNumber(company_id=company_a.id, number="+4930555000111", branch_id=branch.id))
    token_a = await create_token(session, company_a)
    token_b = await create_token(session, company_b)
    await session.commit()
    filtered = (
        f"/api/v1/staff?branch_id={branch.id}",
        f"/api/v1/phone-numbers?branch_id={branch.id}",
        f"/api/v1/appointments?staff_id={staff.id}",
    )
    # Each filter finds company A's object for A, so an empty answer for B proves scoping.
    for url in filtered:
        own = await api.get(url, headers=token_a.headers)
        assert own.status_code == 200, url
        assert len(own.json()["items"]) == 1, url
        other = await api.get(url, headers=token_b.headers)
        assert other.status_code == 200, url
        assert other.json()["items"] == [], url
    members = f"/api/v1/services/{service.id}/staff"
    own_members = await api.get(members, headers=token_a.headers)
    assert [member["id"] for member in own_members.json()] == [staff.id]
    other_members = await api.get(members, headers=token_b.headers)
    assert other_members.status_code == 404, other_members.text


async def test_references_to_another_companys_objects_are_rejected(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    from tests.fixtures import factories

    company_a = await create_company(session, name="A")
    company_b = await create_company(session, name="B")
    branch_a = await factories.create_branch(session, company_a)
    staff_a = await factories.create_staff(session, company_a)
    service_b = await factories.create_service(session, company_b)
    token_b = await create_token(session, company_b)
    await session.commit()
    staff = await api.post(
        "/api/v1/staff", json={"name": "X", "branch_id": branch_a.id}, headers=token_b.headers
    )
    assert staff.status_code == 422
    assert staff.json()["errors"][0]["field"] == "branch_id"
    link = await api.put(
        f"/api/v1/services/{service_b.id}/staff",
        json={"staff_ids": [staff_a.id]},
        headers=token_b.headers,
    )
    assert link.status_code == 422
    assert link.json()["errors"][0]["field"] == "staff_ids"
