"""The auth matrix, generated from the route table: every /api/v1 route times every kind of
caller → the expected 401 / 403 / 404 / 2xx. Routes added later are covered automatically.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.api.route_table import API_PREFIX, RouteEntry, route_table
from askpro.auth.scopes import COMPANY_SCOPES, PLATFORM_SCOPES, Scope
from askpro.models import Company
from tests.api.world import (
    API_ROUTES,
    REQUEST_BODIES,
    is_item_route,
    route_id,
    success_status,
    target,
)
from tests.fixtures.auth import create_token
from tests.fixtures.factories import create_company

# Routes where a platform token without X-Company-ID acts platform-wide instead of a 400.
PLATFORM_WIDE_PREFIXES = (
    f"{API_PREFIX}/tokens",
    f"{API_PREFIX}/audit-logs",
    f"{API_PREFIX}/webhook-events",
)
UNKNOWN_TOKEN = "askpro_0123456789abcdef_" + "A" * 43


def undeclared_routes(app: FastAPI) -> list[str]:
    return [
        route_id(entry)
        for entry in route_table(app)
        if entry.path.startswith(API_PREFIX) and entry.scopes is None
    ]


def test_every_api_route_declares_its_scopes() -> None:
    assert API_ROUTES, "no /api/v1 routes found"
    from tests.api.world import APP

    assert undeclared_routes(APP) == []


def test_a_route_without_declared_scopes_is_caught() -> None:
    from askpro.api import router as api_router  # noqa: F401 - the real app's routers
    from tests.api.world import APP

    extra = APIRouter(prefix=API_PREFIX)

    @extra.get("/forgotten")
    async def forgotten() -> dict[str, str]:
        return {}

    app = FastAPI()
    for route in APP.router.routes:
        app.router.routes.append(route)
    app.include_router(extra)
    assert undeclared_routes(app) == [f"GET {API_PREFIX}/forgotten"]


def _scopes_for(entry: RouteEntry, body: dict[str, Any] | None) -> list[Scope]:
    needed = {Scope(scope) for scope in entry.scopes or ()}
    # Creating a token needs the scopes it grants (no escalation).
    needed |= {Scope(scope) for scope in (body or {}).get("scopes", [])}
    return sorted(needed)


def _bearer(plaintext: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {plaintext}"}


async def _request(
    api: httpx.AsyncClient, entry: RouteEntry, url: str, body: Any, headers: dict[str, str]
) -> httpx.Response:
    return await api.request(entry.method, url, json=body, headers=headers)


def _a_items(response: httpx.Response, company: Company, ids: dict[str, int]) -> list[Any]:
    body = response.json()
    items = body.get("items", [body])  # a list, or one object
    return [item for item in items if item.get("company_id") == company.id]


@pytest.mark.parametrize("entry", API_ROUTES, ids=route_id)
async def test_auth_matrix(
    entry: RouteEntry, api: httpx.AsyncClient, session: AsyncSession
) -> None:
    assert entry.scopes is not None, f"{route_id(entry)} declares no scopes: use requires(...)"
    platform_route = bool(set(entry.scopes) & PLATFORM_SCOPES)
    company_a = await create_company(session, name="A")
    company_b = await create_company(session, name="B")
    goal = await target(session, entry, company_a)
    needed = _scopes_for(entry, goal.body)
    owner = None if platform_route else company_a
    holdable = set(Scope) if platform_route else COMPANY_SCOPES
    past = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    expired = await create_token(session, owner, scopes=needed, expires_at=past)
    revoked = await create_token(session, owner, scopes=needed, revoked=True)
    wrong = await create_token(session, owner, scopes=sorted(holdable - set(needed)))
    other = await create_token(session, company_b)  # every scope a company may hold
    right = await create_token(session, owner, scopes=needed)
    platform = await create_token(session, None)
    await session.commit()

    failures: list[str] = []

    def expect(case: str, response: httpx.Response, status: int) -> None:
        if response.status_code != status:
            failures.append(f"{case}: {response.status_code} != {status}: {response.text[:200]}")
        elif status == 401 and not response.headers.get("www-authenticate", "").startswith(
            "Bearer"
        ):
            failures.append(f"{case}: 401 without WWW-Authenticate: Bearer")
        elif status >= 400 and response.headers["content-type"] != "application/problem+json":
            failures.append(f"{case}: error is not problem+json")

    async def call(headers: dict[str, str]) -> httpx.Response:
        return await _request(api, entry, goal.url, goal.body, {**goal.headers, **headers})

    expect("no token", await call({}), 401)
    expect("malformed token", await call(_bearer("not-a-token")), 401)
    expect("unknown token", await call(_bearer(UNKNOWN_TOKEN)), 401)
    expect("basic auth", await call({"Authorization": "Basic dXNlcjpwYXNz"}), 401)
    expect("expired token", await call(expired.headers), 401)
    expect("revoked token", await call(revoked.headers), 401)
    expect("wrong scope", await call(wrong.headers), 403)

    collection_write = entry.method != "GET" and not is_item_route(entry)
    if collection_write:  # before company B can take a globally unique value (a number)
        expect("right token", await call(right.headers), success_status(entry))

    response = await call(other.headers)
    if platform_route:
        expect("other company's token", response, 403)
    elif is_item_route(entry):
        expect("other company's token", response, 404)
    elif entry.method == "GET":
        expect("other company's token", response, 200)
        if response.status_code == 200 and _a_items(response, company_a, goal.ids):
            failures.append("other company's token: list shows company A's objects")
    elif route_id(entry) in REQUEST_BODIES:  # the body names company A's objects
        expect("other company's token (naming company A's objects)", response, 422)
    elif response.status_code != 409:  # a globally unique value (a phone number) may clash
        expect(
            "other company's token (creates in its own company)", response, success_status(entry)
        )

    tenant_route = not platform_route and not entry.path.startswith(PLATFORM_WIDE_PREFIXES)
    if tenant_route:
        unnamed = await call(platform.headers)
        expect("platform token naming no company", unnamed, 400)

    if not platform_route and entry.method == "GET":
        named = await call({**platform.headers, "X-Company-ID": str(company_a.id)})
        expect("platform token naming the company", named, success_status(entry))
        foreign = await call({**other.headers, "X-Company-ID": str(company_a.id)})
        expect("company token naming another company", foreign, 404)

    if not collection_write:
        expect("right token", await call(right.headers), success_status(entry))
    assert not failures, f"{route_id(entry)}:\n" + "\n".join(failures)
