"""/api/v1/customers: filters, duplicates, merged rows, erasure and merge."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.models import Appointment, AuditLog, Call, Company, Customer, CustomerMerge
from tests.fixtures.auth import IssuedTestToken, create_token
from tests.fixtures.booking import DAY, local
from tests.fixtures.factories import (
    create_appointment,
    create_company,
    create_customer,
    create_service,
    create_staff,
)


@pytest.fixture
async def company(session: AsyncSession) -> Company:
    company = await create_company(session, name="Salon")
    await session.commit()
    return company


@pytest.fixture
async def token(session: AsyncSession, company: Company) -> IssuedTestToken:
    issued = await create_token(session, company, name="crm sync")
    await session.commit()
    return issued


def _ids(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_filters_normalise_the_phone_and_match_email_and_name(
    api: httpx.AsyncClient, token: IssuedTestToken, company: Company, session: AsyncSession
) -> None:
    lisa = await create_customer(
        session, company, phone="+4915123456789", name="Lisa Weber", email="lisa@example.com"
    )
    paul = await create_customer(session, company, phone="+4915100000001", name="Paul 100%")
    await session.commit()
    get = lambda query: api.get(f"/api/v1/customers?{query}", headers=token.headers)  # noqa: E731
    assert _ids(await get("phone=0151%202345%206789")) == [lisa.id]
    assert _ids(await get("email=LISA@example.com")) == [lisa.id]
    assert _ids(await get("name=weber")) == [lisa.id]
    assert _ids(await get("name=100%25")) == [paul.id]
    assert _ids(await get("name=%25")) == [paul.id]  # a literal %, not a wildcard
    assert _ids(await get("limit=1")) == [lisa.id]
    bad = await get("phone=12")
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "query.phone"


async def test_create_normalises_and_a_known_number_is_409_naming_the_customer(
    api: httpx.AsyncClient, token: IssuedTestToken
) -> None:
    body = {"phone": "0151 23456789", "name": "Lisa", "email": " Lisa@Example.com "}
    created = await api.post("/api/v1/customers", json=body, headers=token.headers)
    assert created.status_code == 201, created.text
    assert created.json()["phone"] == "+4915123456789"
    assert created.json()["email"] == "lisa@example.com"
    again = await api.post("/api/v1/customers", json=body, headers=token.headers)
    assert again.status_code == 409
    assert again.json()["type"].endswith("/customer-exists")
    assert again.json()["customer_id"] == created.json()["id"]
    anonymous = [
        await api.post("/api/v1/customers", json={"name": "Walk-in"}, headers=token.headers)
        for _ in range(2)
    ]
    assert [r.status_code for r in anonymous] == [201, 201]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone": "12"}, "phone"),
        ({"phone": "+4915123", "age": 3}, "age"),
        ({"name": 5}, "name"),
        ({"email": "not an email"}, "email"),
    ],
)
async def test_bad_customer_input_is_422_naming_the_field(
    api: httpx.AsyncClient, token: IssuedTestToken, body: dict[str, object], field: str
) -> None:
    response = await api.post("/api/v1/customers", json=body, headers=token.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [error["field"] for error in response.json()["errors"]]


async def test_patch_changes_and_a_number_taken_by_another_customer_is_409(
    api: httpx.AsyncClient, token: IssuedTestToken, company: Company, session: AsyncSession
) -> None:
    lisa = await create_customer(session, company, phone="+4915123456789", name="Lisa")
    await create_customer(session, company, phone="+4915100000001", name="Paul")
    await session.commit()
    url = f"/api/v1/customers/{lisa.id}"
    changed = await api.patch(url, json={"name": "Lisa W", "notes": "VIP"}, headers=token.headers)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["notes"]) == ("Lisa W", "VIP")
    clash = await api.patch(url, json={"phone": "0151 00000001"}, headers=token.headers)
    assert clash.status_code == 409, clash.text
    assert clash.json()["type"].endswith("/customer-exists")


async def test_merge_moves_history_and_merged_rows_resolve_or_refuse_changes(
    api: httpx.AsyncClient,
    app: FastAPI,
    token: IssuedTestToken,
    company: Company,
    session: AsyncSession,
) -> None:
    staff = await create_staff(session, company)
    service = await create_service(session, company, staff=[staff])
    survivor = await create_customer(session, company, phone="+4915100000001", name="Lisa")
    loser = await create_customer(
        session, company, phone="+4915100000002", email="lisa@example.com"
    )
    appointment = await create_appointment(
        session, company, staff, service, local(DAY, 10), customer_id=loser.id
    )
    call = Call(call_id="call_merge", company_id=company.id, customer_id=loser.id)
    session.add(call)
    await session.commit()

    merged = await api.post(
        f"/api/v1/customers/{survivor.id}/merge",
        json={"loser_ids": [loser.id]},
        headers=token.headers,
    )
    assert merged.status_code == 200, merged.text
    assert merged.json()["email"] == "lisa@example.com"  # empty fields filled from the loser
    ids = (appointment.id, call.id, survivor.id, loser.id)
    token_id = token.row.id
    session.expire_all()
    appointment_id, call_id, survivor_id, loser_id = ids
    assert (await session.get_one(Appointment, appointment_id)).customer_id == survivor_id
    assert (await session.get_one(Call, call_id)).customer_id == survivor_id
    rows = (await session.scalars(select(CustomerMerge))).all()
    assert [(row.survivor_id, row.loser_id) for row in rows] == [(survivor_id, loser_id)]
    assert rows[0].actor == f"api token {token_id} (crm sync)"
    await app.state.audit_writer.flush()
    audit = (await session.scalars(select(AuditLog).where(AuditLog.path.like("%/merge")))).all()
    assert [(row.method, row.status, row.resource_id) for row in audit] == [
        ("POST", 200, str(survivor_id))
    ]

    listed = await api.get("/api/v1/customers", headers=token.headers)
    assert _ids(listed) == [survivor_id]
    with_merged = await api.get("/api/v1/customers?include_merged=true", headers=token.headers)
    assert _ids(with_merged) == [survivor_id, loser_id]
    shown = await api.get(f"/api/v1/customers/{loser_id}", headers=token.headers)
    assert shown.json()["id"] == survivor_id
    for method in ("PATCH", "DELETE"):
        refused = await api.request(
            method, f"/api/v1/customers/{loser_id}", json={"name": "x"}, headers=token.headers
        )
        assert refused.status_code == 404, refused.text
        assert refused.json()["type"].endswith("/customer-merged")
        assert refused.json()["merged_into_id"] == survivor_id


async def test_merge_refuses_another_companys_customer_and_changes_nothing(
    api: httpx.AsyncClient, token: IssuedTestToken, company: Company, session: AsyncSession
) -> None:
    other = await create_company(session, name="Other")
    survivor = await create_customer(session, company, phone="+4915100000001")
    stranger = await create_customer(session, other, phone="+4915100000002")
    await session.commit()
    for loser_ids in ([stranger.id], [survivor.id], [999999]):
        refused = await api.post(
            f"/api/v1/customers/{survivor.id}/merge",
            json={"loser_ids": loser_ids},
            headers=token.headers,
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == "loser_ids"
    stranger_id = stranger.id
    session.expire_all()
    assert (await session.get_one(Customer, stranger_id)).merged_into_id is None
    assert (await session.scalars(select(CustomerMerge))).all() == []


async def test_delete_erases_the_customer_and_its_merged_rows_but_keeps_appointments(
    api: httpx.AsyncClient, token: IssuedTestToken, company: Company, session: AsyncSession
) -> None:
    staff = await create_staff(session, company)
    service = await create_service(session, company, staff=[staff])
    survivor = await create_customer(session, company, phone="+4915100000001")
    loser = await create_customer(session, company, phone="+4915100000002")
    appointment = await create_appointment(
        session, company, staff, service, local(DAY, 10), customer_id=survivor.id
    )
    await session.commit()
    merged = await api.post(
        f"/api/v1/customers/{survivor.id}/merge",
        json={"loser_ids": [loser.id]},
        headers=token.headers,
    )
    assert merged.status_code == 200
    deleted = await api.delete(f"/api/v1/customers/{survivor.id}", headers=token.headers)
    assert deleted.status_code == 204
    appointment_id, loser_id = appointment.id, loser.id
    session.expire_all()
    assert (await session.scalars(select(Customer))).all() == []
    assert (await session.get_one(Appointment, appointment_id)).customer_id is None
    gone = await api.get(f"/api/v1/customers/{loser_id}", headers=token.headers)
    assert gone.status_code == 404


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", "/api/v1/customers?name=%00", None),
        ("POST", "/api/v1/customers", {"name": "a\u0000b"}),
        ("POST", "/api/v1/staff", {"name": "a\u0000b"}),
    ],
)
async def test_a_nul_byte_is_a_422_problem_not_a_server_error(
    api: httpx.AsyncClient, token: IssuedTestToken, method: str, url: str, body: object
) -> None:
    response = await api.request(method, url, json=body, headers=token.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
