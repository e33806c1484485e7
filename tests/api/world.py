"""What the generic API tests need to call any /api/v1 route: ids for its path parameters
(made in company A) and a request body (the OpenAPI example of the operation).

A feature that adds a route with a new path parameter adds ONE line to PATH_PARAMETERS.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from askpro.api.route_table import API_PREFIX, RouteEntry, route_table
from askpro.app import create_app
from askpro.config import load_settings
from askpro.models import Call, CallerMessage, Company, PhoneNumber, StaffService
from tests.fixtures import factories
from tests.fixtures.auth import create_token
from tests.fixtures.outbound import create_delivery, create_endpoint, latest_endpoint
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


async def _customer(session: AsyncSession, company: Company) -> int:
    return (await factories.create_customer(session, company, name="Target")).id


async def _call(session: AsyncSession, company: Company) -> int:
    row = Call(call_id=f"call_{uuid.uuid4().hex}", company_id=company.id, status="ended")
    session.add(row)
    await session.flush()
    return row.id


async def _endpoint(session: AsyncSession, company: Company) -> int:
    return (await create_endpoint(session, company))[0].id


async def _delivery(session: AsyncSession, company: Company) -> int:
    # Of the endpoint made for {endpoint_id} just before (paths name the endpoint first).
    return (await create_delivery(session, await latest_endpoint(session, company))).id


async def _message(session: AsyncSession, company: Company) -> int:
    row = CallerMessage(company_id=company.id, kind="message", body="Bitte zurückrufen")
    session.add(row)
    await session.flush()
    return row.id


def bookable_start(days_ahead: int = 2, hour: int = 10) -> str:
    """A Tuesday at ``hour`` in Berlin, ``days_ahead``+ days from now: inside the default
    opening hours, notice and horizon of a company without a calendar."""
    day = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=days_ahead)
    day += dt.timedelta(days=(1 - day.weekday()) % 7)
    return dt.datetime.combine(day, dt.time(hour), ZoneInfo("Europe/Berlin")).isoformat()


PATH_PARAMETERS: dict[str, Callable[[AsyncSession, Company], Awaitable[int]]] = {
    "company_id": _company,
    "branch_id": _branch,
    "phone_number_id": _phone_number,
    "staff_id": _staff,
    "service_id": _service,
    "appointment_id": _appointment,
    "token_id": _token,
    "webhook_event_id": _webhook_event,
    "customer_id": _customer,
    "call_id": _call,
    "endpoint_id": _endpoint,
    "delivery_id": _delivery,
    "message_id": _message,
}


async def _booking_body(session: AsyncSession, company: Company, ids: dict[str, int]) -> Any:
    staff = await factories.create_staff(session, company)
    service = await factories.create_service(session, company, staff=[staff])
    return {
        "service_id": service.id,
        "customer": {"phone": "+4915123456789"},
        "starts_at": (bookable_start()),
    }


async def _reschedule_body(session: AsyncSession, company: Company, ids: dict[str, int]) -> Any:
    return {"starts_at": bookable_start(hour=11)}


async def _merge_body(session: AsyncSession, company: Company, ids: dict[str, int]) -> Any:
    return {"loser_ids": [await _customer(session, company)]}


async def _staff_link_body(session: AsyncSession, company: Company, ids: dict[str, int]) -> Any:
    """The member must perform the service before their event type can be linked."""
    session.add(
        StaffService(staff_id=ids["staff_id"], service_id=ids["service_id"], company_id=company.id)
    )
    await session.flush()
    return {"calcom_event_type_id": 2001}


# Routes whose example cannot succeed as is (it names other objects of the company, or a
# time that must be bookable now) get a body built in company A. Another company's token
# sending such a body names objects that are not its own: 422 (or 404 on an item route).
REQUEST_BODIES: dict[
    str, Callable[[AsyncSession, Company, dict[str, int]], Awaitable[dict[str, Any]]]
] = {
    "POST /api/v1/appointments": _booking_body,
    "POST /api/v1/appointments/{appointment_id}/reschedule": _reschedule_body,
    "POST /api/v1/customers/{customer_id}/merge": _merge_body,
    "PATCH /api/v1/services/{service_id}/staff/{staff_id}": _staff_link_body,
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
    # Values for the operation's required headers (an Idempotency-Key), one per target.
    headers: dict[str, str]


def required_headers(entry: RouteEntry) -> dict[str, str]:
    return {
        parameter["name"]: uuid.uuid4().hex
        for parameter in operation(entry).get("parameters", [])
        if parameter["in"] == "header" and parameter.get("required")
    }


async def target(session: AsyncSession, entry: RouteEntry, company: Company) -> Target:
    ids: dict[str, int] = {}
    for name in PARAMETER.findall(entry.path):
        factory = PATH_PARAMETERS.get(name)
        assert factory is not None, (
            f"{route_id(entry)}: add a factory for path parameter {name!r} to "
            "tests/api/world.py PATH_PARAMETERS"
        )
        ids[name] = await factory(session, company)
    build = REQUEST_BODIES.get(route_id(entry))
    body = await build(session, company, ids) if build else example_body(entry)
    return Target(entry.path.format(**ids), body, ids, required_headers(entry))
