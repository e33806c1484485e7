"""Bad input answers 422/400 problem+json naming the offending field."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.api.route_table import RouteEntry
from askpro.kit.pagination import encode_cursor
from askpro.models import Company
from tests.api.world import API_ROUTES, operation, route_id, target
from tests.fixtures.auth import IssuedTestToken, create_token
from tests.fixtures.factories import create_branch, create_company


@pytest.fixture
async def token(session: AsyncSession) -> IssuedTestToken:
    company = await create_company(session)
    token = await create_token(session, company)
    await session.commit()
    return token


def _fields(response: httpx.Response) -> list[str]:
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"].startswith("https://askpro.dev/problems/")
    return [error["field"] for error in body["errors"]]


WEBHOOKS = "/api/v1/webhook-events"

CASES: list[tuple[str, str, str, Any, int, str]] = [
    ("unknown field", "POST", "/api/v1/branches", {"name": "x", "colour": "red"}, 422, "colour"),
    (
        "wrong type",
        "POST",
        "/api/v1/services",
        {"name": "x", "duration_minutes": "long"},
        422,
        "duration_minutes",
    ),
    ("missing field", "POST", "/api/v1/services", {"name": "x"}, 422, "duration_minutes"),
    (
        "null for a required column",
        "PATCH",
        "/api/v1/branches/{branch}",
        {"name": None},
        422,
        "name",
    ),
    ("bad phone number", "POST", "/api/v1/phone-numbers", {"number": "12"}, 422, "number"),
    (
        "unknown time zone",
        "POST",
        "/api/v1/branches",
        {"name": "x", "time_zone": "Mars/Base"},
        422,
        "time_zone",
    ),
    ("bad scope", "POST", "/api/v1/tokens", {"name": "x", "scopes": ["root"]}, 422, "scopes.0"),
    ("oversized page", "GET", "/api/v1/branches?limit=500", None, 422, "query.limit"),
    ("zero page", "GET", "/api/v1/staff?limit=0", None, 422, "query.limit"),
    ("unknown sort", "GET", "/api/v1/staff?sort=salary", None, 422, "query.sort"),
    ("garbage cursor", "GET", "/api/v1/branches?cursor=%%%garbage", None, 400, "query.cursor"),
    (
        "forged cursor",
        "GET",
        "/api/v1/branches?cursor=" + encode_cursor(["x", "y", "z"]),
        None,
        400,
        "query.cursor",
    ),
    (
        "cursor of another sort",
        "GET",
        "/api/v1/staff?sort=name&cursor=" + encode_cursor([5]),
        None,
        400,
        "query.cursor",
    ),
    (
        "timestamp cursor that is not one",
        "GET",
        "/api/v1/appointments?cursor=" + encode_cursor(["monday", 1]),
        None,
        400,
        "query.cursor",
    ),
    (
        "bad date",
        "GET",
        "/api/v1/appointments?starts_from=yesterday",
        None,
        422,
        "query.starts_from",
    ),
    (
        "date without offset",
        "GET",
        "/api/v1/appointments?starts_from=2030-01-01T09:00:00",
        None,
        422,
        "query.starts_from",
    ),
    (
        "reversed range",
        "GET",
        "/api/v1/appointments?starts_from=2030-01-02T00:00:00Z&starts_before=2030-01-01T00:00:00Z",
        None,
        400,
        "query.starts_before",
    ),
    ("unknown status", "GET", "/api/v1/appointments?status=lost", None, 422, "query.status.0"),
    ("misspelt filter", "GET", "/api/v1/appointments?stauts=booked", None, 422, "query.stauts"),
    ("id that is not a number", "GET", "/api/v1/staff/abc", None, 422, "path.staff_id"),
    ("id out of range", "GET", "/api/v1/staff/0", None, 422, "path.staff_id"),
    ("company header not a number", "GET", "/api/v1/staff", None, 422, "header.X-Company-ID"),
    ("unknown webhook provider", "GET", WEBHOOKS + "?provider=paypal", None, 422, "query.provider"),
    ("unknown webhook status", "GET", WEBHOOKS + "?status=lost", None, 422, "query.status.0"),
    ("bad webhook date", "GET", WEBHOOKS + "?since=yesterday", None, 422, "query.since"),
    (
        "webhook date without offset",
        "GET",
        WEBHOOKS + "?until=2030-01-01T09:00:00",
        None,
        422,
        "query.until",
    ),
    (
        "reversed webhook range",
        "GET",
        WEBHOOKS + "?since=2030-01-02T00:00:00Z&until=2030-01-01T00:00:00Z",
        None,
        400,
        "query.until",
    ),
    ("oversized webhook page", "GET", WEBHOOKS + "?limit=201", None, 422, "query.limit"),
    (
        "webhook event type too long",
        "GET",
        WEBHOOKS + "?event_type=" + "x" * 101,
        None,
        422,
        "query.event_type",
    ),
    (
        "replay of a settled status",
        "POST",
        WEBHOOKS + "/replay",
        {"status": "processed"},
        422,
        "status",
    ),
    ("replay without status", "POST", WEBHOOKS + "/replay", {"provider": "stripe"}, 422, "status"),
    (
        "oversized bulk replay",
        "POST",
        WEBHOOKS + "/replay",
        {"status": "dead", "limit": 1001},
        422,
        "limit",
    ),
    (
        "bulk replay since without offset",
        "POST",
        WEBHOOKS + "/replay",
        {"status": "dead", "since": "2030-01-01T00:00:00"},
        422,
        "since",
    ),
    (
        "unknown bulk replay filter",
        "POST",
        WEBHOOKS + "/replay",
        {"status": "dead", "type": "x"},
        422,
        "type",
    ),
]


@pytest.mark.parametrize(
    ("method", "url", "body", "status", "field"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
async def test_bad_input_names_the_field(
    api: httpx.AsyncClient,
    session: AsyncSession,
    token: IssuedTestToken,
    method: str,
    url: str,
    body: Any,
    status: int,
    field: str,
) -> None:
    company = await session.get_one(Company, token.row.company_id)
    branch = await create_branch(session, company)
    await session.commit()
    headers = dict(token.headers)
    if field.startswith("header."):
        headers["X-Company-ID"] = "abc"
    response = await api.request(method, url.format(branch=branch.id), json=body, headers=headers)
    assert response.status_code == status, response.text
    assert field in _fields(response), response.text


async def test_a_webhook_event_segment_that_is_not_a_number_names_no_resource(
    api: httpx.AsyncClient, token: IssuedTestToken
) -> None:
    """``/webhook-events/{id:int}``: ``abc`` is no event (404), and ``GET …/replay`` is the
    replay resource answering 405 with its ``Allow``, not an invalid id."""
    missing = await api.get(WEBHOOKS + "/abc", headers=token.headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    replay = await api.get(WEBHOOKS + "/replay", headers=token.headers)
    assert replay.status_code == 405
    assert replay.headers["allow"] == "POST"


BODY_ROUTES = [entry for entry in API_ROUTES if operation(entry).get("requestBody")]


@pytest.mark.parametrize("entry", BODY_ROUTES, ids=route_id)
async def test_malformed_json_is_a_400_saying_the_body_is_not_json(
    api: httpx.AsyncClient, session: AsyncSession, entry: RouteEntry
) -> None:
    company = await create_company(session)
    goal = await target(session, entry, company)
    platform = await create_token(session, None)
    await session.commit()
    response = await api.request(
        entry.method,
        goal.url,
        content=b'{"name": "x", ',
        headers={
            **platform.headers,
            **goal.headers,
            "X-Company-ID": str(company.id),
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 400, response.text
    assert response.json()["type"].endswith("/malformed-body")
    assert "not valid JSON" in response.json()["detail"]
    assert _fields(response) == ["body"]


async def test_platform_token_must_name_the_company(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    platform = await create_token(session, None)
    await session.commit()
    response = await api.get("/api/v1/staff", headers=platform.headers)
    assert response.status_code == 400
    assert response.json()["type"].endswith("/company-required")
    assert _fields(response) == ["header.X-Company-ID"]


async def test_platform_token_naming_a_missing_company_gets_404(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    platform = await create_token(session, None)
    await session.commit()
    response = await api.get(
        "/api/v1/staff", headers={**platform.headers, "X-Company-ID": "999999"}
    )
    assert response.status_code == 404
