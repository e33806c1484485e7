"""What the generic API tests need to call any /api/v1 route: ids for its path parameters
(made in company A) and a request body (the OpenAPI example of the operation).

A feature that adds a route with a new path parameter adds ONE line to PATH_PARAMETERS.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from askpro.app import create_app
from askpro.auth.routes import API_PREFIX, RouteEntry, route_table
from askpro.config import load_settings
from askpro.models import Company, PhoneNumber
from tests.fixtures import factories
from tests.fixtures.auth import create_token
from tests.fixtures.webhooks import create_webhook_event


async def _appointment(session: AsyncSession, company: Company) -> int:
    staff = await factories.create_staff(session, company)
    service = await factories.create_service(session, company, staff=[staff])
    starts = dt.datetime(2030, 1, 7, 9, tzinfo=dt.UTC)
    return (await factories.create_appointment(session, company, staff, service, starts)).id


async def _phone_number(session: AsyncSession, company: Company) -> int:
    row = PhoneNumber(company_id=company.id, number=f"+4930555{company.id:06d}")
    session.add(row)
    await session.flush()
    return row.id


async def _token(session: AsyncSession, company: Company) -> int:
    return (await create_token(session, company, name="target")).row.id


async def _branch(session: AsyncSession, company: Company) -> int:
    return (await factories.create_branch(session, company)).id


async def _staff(session: AsyncSession, company: Company) -> int:
    return (await factories.create_staff(session, company)).id


async def _service(session: AsyncSession, company: Company) -> int:
    return (await factories.create_service(session, company)).id


async def _webhook_event(session: AsyncSession, company: Company) -> int:
    return (await create_webhook_event(session, company, status="failed")).id


async def _company(session: AsyncSession, company: Company) -> int:
    return company.id


PATH_PARAMETERS: dict[str, Callable[[AsyncSession, Company], Awaitable[int]]] = {
    "company_id": _company,
    "branch_id": _branch,
    "phone_number_id": _phone_number,
    "staff_id": _staff,
    "service_id": _service,
    "appointment_id": _appointment,
    "token_id": _token,
    "webhook_event_id": _webhook_event,
}

APP = create_app(load_settings(_env_file=None))
OPENAPI = APP.openapi()
API_ROUTES: list[RouteEntry] = [e for e in route_table(APP) if e.path.startswith(API_PREFIX)]
PARAMETER = re.compile(r"\{(\w+)\}")


def route_id(entry: RouteEntry) -> str:
    return f"{entry.method} {entry.path}"


def operation(entry: RouteEntry) -> dict[str, Any]:
    operation: dict[str, Any] = OPENAPI["paths"][entry.path][entry.method.lower()]
    return operation


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref:
        resolved: dict[str, Any] = OPENAPI["components"]["schemas"][ref.rsplit("/", 1)[-1]]
        return resolved
    return schema


def example_body(entry: RouteEntry) -> dict[str, Any] | None:
    """The operation's request example; a body without an example fails the calling test."""
    body = operation(entry).get("requestBody")
    if body is None:
        return None
    schema = _resolve(body["content"]["application/json"]["schema"])
    examples = schema.get("examples")
    assert examples, f"{route_id(entry)}: the request schema needs an example (json_schema_extra)"
    example: dict[str, Any] = examples[0]
    return example


# Routes whose success needs provider credentials the test app does not have answer this
# status instead (after authentication and scopes); their own tests cover the success.
UNCONFIGURED_STATUS: dict[str, int] = {"POST /api/v1/billing/checkout-sessions": 503}


def success_status(entry: RouteEntry) -> int:
    if route_id(entry) in UNCONFIGURED_STATUS:
        return UNCONFIGURED_STATUS[route_id(entry)]
    codes = [int(code) for code in operation(entry)["responses"] if code.startswith("2")]
    assert len(codes) == 1, f"{route_id(entry)}: expected one 2xx response, got {codes}"
    return codes[0]


def is_item_route(entry: RouteEntry) -> bool:
    return bool(PARAMETER.search(entry.path))


@dataclass
class Target:
    """A concrete request for a route against company A's objects."""

    url: str
    body: dict[str, Any] | None
    ids: dict[str, int]


async def target(session: AsyncSession, entry: RouteEntry, company: Company) -> Target:
    ids: dict[str, int] = {}
    for name in PARAMETER.findall(entry.path):
        factory = PATH_PARAMETERS.get(name)
        assert factory is not None, (
            f"{route_id(entry)}: add a factory for path parameter {name!r} to "
            "tests/api/world.py PATH_PARAMETERS"
        )
        ids[name] = await factory(session, company)
    return Target(entry.path.format(**ids), example_body(entry), ids)
