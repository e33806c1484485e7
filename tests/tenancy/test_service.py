"""Tenancy use cases: scoping in the repository, references, conflicts, staff links."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.kit.pagination import PageRequest
from askpro.kit.problems import Problem
from askpro.models import Branch, PhoneNumber, StaffService
from askpro.tenancy import repository, service
from askpro.tenancy.schemas import BranchUpdate, PhoneNumberCreate
from tests.fixtures import factories
from tests.fixtures.auth import create_token


async def test_repository_never_returns_another_companys_rows(session: AsyncSession) -> None:
    company_a = await factories.create_company(session)
    company_b = await factories.create_company(session)
    branch_a = await factories.create_branch(session, company_a)
    await factories.create_branch(session, company_b)
    assert await repository.get(session, Branch, company_b.id, branch_a.id) is None
    assert (await repository.get(session, Branch, company_a.id, branch_a.id)) is branch_a
    rows, _ = await repository.page(session, Branch, company_b.id, PageRequest(50, None))
    assert branch_a.id not in {row.id for row in rows}
    with pytest.raises(Problem) as raised:
        await service.update(session, Branch, company_b.id, branch_a.id, BranchUpdate(name="x"))
    assert raised.value.status == 404


async def test_phone_numbers_are_stored_in_e164_with_the_companys_region(
    session: AsyncSession,
) -> None:
    company = await factories.create_company(session, country="AT")
    number = await service.create_phone_number(
        session, company.id, PhoneNumberCreate(number="01 5550001")
    )
    assert number.number == "+4315550001"


async def test_a_number_taken_by_another_company_is_a_conflict(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company_a = await factories.create_company(session)
    company_b = await factories.create_company(session)
    session.add(PhoneNumber(company_id=company_a.id, number="+49305550001"))
    token_b = await create_token(session, company_b)
    await session.commit()
    response = await api.post(
        "/api/v1/phone-numbers", json={"number": "030 5550001"}, headers=token_b.headers
    )
    assert response.status_code == 409
    assert response.json()["type"].endswith("/conflict")


async def test_staff_with_appointments_cannot_be_deleted(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company = await factories.create_company(session)
    anna = await factories.create_staff(session, company)
    cut = await factories.create_service(session, company, staff=[anna])
    await factories.create_appointment(
        session, company, anna, cut, dt.datetime(2030, 1, 7, 9, tzinfo=dt.UTC)
    )
    token = await create_token(session, company)
    await session.commit()
    response = await api.delete(f"/api/v1/staff/{anna.id}", headers=token.headers)
    assert response.status_code == 409
    assert (await api.get(f"/api/v1/staff/{anna.id}", headers=token.headers)).status_code == 200


async def test_set_staff_of_service_replaces_the_links(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company = await factories.create_company(session)
    anna = await factories.create_staff(session, company, name="Anna")
    ben = await factories.create_staff(session, company, name="Ben")
    cut = await factories.create_service(session, company, staff=[anna])
    token = await create_token(session, company)
    await session.commit()
    url = f"/api/v1/services/{cut.id}/staff"
    assert [m["name"] for m in (await api.get(url, headers=token.headers)).json()] == ["Anna"]
    replaced = await api.put(url, json={"staff_ids": [ben.id, ben.id]}, headers=token.headers)
    assert replaced.status_code == 200
    assert [m["name"] for m in replaced.json()] == ["Ben"]
    links = (await session.scalars(select(StaffService.staff_id))).all()
    assert list(links) == [ben.id]
    cleared = await api.put(url, json={"staff_ids": []}, headers=token.headers)
    assert cleared.json() == []


async def test_patch_changes_only_given_fields_and_may_clear_nullable_ones(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company = await factories.create_company(session)
    branch = await factories.create_branch(session, company, address="Old street 1")
    token = await create_token(session, company)
    await session.commit()
    url = f"/api/v1/branches/{branch.id}"
    renamed = await api.patch(url, json={"name": "New"}, headers=token.headers)
    assert renamed.json()["address"] == "Old street 1"
    cleared = await api.patch(url, json={"address": None}, headers=token.headers)
    assert cleared.json()["address"] is None
    assert cleared.json()["name"] == "New"


async def test_companies_are_managed_by_platform_tokens(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    platform = await create_token(session, None)
    await session.commit()
    created = await api.post(
        "/api/v1/companies", json={"name": "Salon Lisa"}, headers=platform.headers
    )
    assert created.status_code == 201
    company_id = created.json()["id"]
    suspended = await api.patch(
        f"/api/v1/companies/{company_id}", json={"status": "suspended"}, headers=platform.headers
    )
    assert suspended.json()["status"] == "suspended"
    listed = await api.get("/api/v1/companies", headers=platform.headers)
    assert [c["name"] for c in listed.json()["items"]] == ["Salon Lisa"]
