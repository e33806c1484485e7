"""The stand-in's answers and the client's requests follow Cal.com's OpenAPI document."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx

from askpro.integrations.calcom.client import CalcomClient
from askpro.integrations.calcom.standin.server import RunningStandin
from tests.integrations.calcom import openapi
from tests.integrations.calcom.helpers import booking_request, next_weekday_at

ROUTES = [
    ("/v2/bookings/{bookingUid}/reschedule", re.compile(r"^/v2/bookings/[^/]+/reschedule$")),
    ("/v2/bookings/{bookingUid}/cancel", re.compile(r"^/v2/bookings/[^/]+/cancel$")),
    ("/v2/bookings/{bookingUid}", re.compile(r"^/v2/bookings/[^/]+$")),
    ("/v2/slots/reservations/{uid}", re.compile(r"^/v2/slots/reservations/[^/]+$")),
]


def template(path: str) -> str:
    for name, pattern in ROUTES:
        if pattern.match(path):
            return name
    return path


async def exercise_everything(client: CalcomClient) -> None:
    await client.get_event_types()
    await client.get_schedules()
    await client.get_me()
    start = next_weekday_at(10)
    await client.get_slots(1001, start, start + dt.timedelta(days=1), time_zone="Europe/Berlin")
    reservation = await client.reserve_slot(1002, start + dt.timedelta(hours=2))
    await client.delete_reservation(reservation.reservation_uid)
    booking = await client.create_booking(
        booking_request(start, metadata={"call": "c1"}, guests=["guest@example.com"])
    )
    await client.get_booking(booking.uid)
    moved = await client.reschedule_booking(booking.uid, start + dt.timedelta(hours=4), reason="r")
    await client.cancel_booking(moved.uid, reason="no longer needed")
    await client.list_bookings(status=["upcoming", "cancelled"], take=10, sort_start="desc")


# The document's oneOf for POST /v2/bookings is ambiguous (a regular body is also a valid
# recurring body, recurrenceCount being optional), so each body is checked against the
# variant it is meant to be, which must be one of the operation's documented variants.
REQUEST_VARIANTS = {
    "/v2/bookings": "CreateBookingInput_2024_08_13",
    "/v2/bookings/{bookingUid}/reschedule": "RescheduleBookingInput_2024_08_13",
    "/v2/bookings/{bookingUid}/cancel": "CancelBookingInput_2024_08_13",
    "/v2/slots/reservations": "ReserveSlotInput_2024_09_04",
}


def undeclared_keys(name: str, body: dict[str, Any]) -> list[str]:
    schemas = openapi.document()["components"]["schemas"]
    declared = schemas[name]["properties"]
    extra = [key for key in body if key not in declared]
    if name == "CreateBookingInput_2024_08_13":
        attendee = schemas["CreateBookingAttendee"]["properties"]
        extra += [f"attendee.{key}" for key in body["attendee"] if key not in attendee]
    return extra


async def test_every_request_body_validates_against_the_request_schema(
    calcom_client: CalcomClient, calcom_standin: RunningStandin
) -> None:
    await exercise_everything(calcom_client)
    checked = 0
    for request in calcom_standin.state.requests:
        if request.method != "POST":
            continue
        path = template(request.path)
        variant = REQUEST_VARIANTS[path]
        documented = openapi.request_schema(request.method, path)
        refs = [branch["$ref"] for branch in documented.get("oneOf", [documented])]
        assert f"#/components/schemas/{variant}" in refs
        schema = {"$ref": f"#/components/schemas/{variant}"}
        assert openapi.errors(schema, request.body) == [], (request.path, request.body)
        assert undeclared_keys(variant, request.body) == []
        checked += 1
    assert checked == 4  # reservation, booking, reschedule, cancel


async def test_every_request_sends_documented_parameters_and_version(
    calcom_client: CalcomClient, calcom_standin: RunningStandin
) -> None:
    await exercise_everything(calcom_client)
    for request in calcom_standin.state.requests:
        operation = openapi.operation(request.method, template(request.path))
        parameters = {p["name"]: p for p in operation.get("parameters", [])}
        for name in request.query:
            assert name in parameters, (request.path, name)
            assert parameters[name]["in"] == "query", (request.path, name)
        version = parameters.get("cal-api-version")
        if version is not None:
            expected = re.search(r"\d{4}-\d{2}-\d{2}", version.get("description", ""))
            default = version.get("schema", {}).get("default")
            assert request.api_version in {default, expected and expected.group(0)}, request.path


async def test_every_response_validates_against_the_response_schema(
    calcom_standin: RunningStandin,
) -> None:
    headers = {
        "Authorization": f"Bearer {calcom_standin.api_key}",
        "cal-api-version": "2024-08-13",
    }
    start = next_weekday_at(10)
    body = booking_request(start, metadata={"k": "v"}).to_wire()
    checks: list[tuple[str, str, int, Any]] = []
    async with httpx.AsyncClient(base_url=calcom_standin.base_url, headers=headers) as http:

        async def call(method: str, path: str, version: str, status: int, **kw: Any) -> Any:
            answer = await http.request(method, path, headers={"cal-api-version": version}, **kw)
            assert answer.status_code == status, answer.text
            checks.append((method, template(path), status, answer.json()))
            return answer.json()

        await call("GET", "/v2/event-types", "2024-06-14", 200)
        await call("GET", "/v2/schedules", "2024-06-11", 200)
        await call("GET", "/v2/me", "2024-08-13", 200)
        reservation = await call(
            "POST", "/v2/slots/reservations", "2024-09-04", 201,
            json={"eventTypeId": 1003, "slotStart": "2099-01-05T10:00:00Z"},
        )  # fmt: skip
        uid = reservation["data"]["reservationUid"]
        created = await call("POST", "/v2/bookings", "2024-08-13", 201, json=body)
        booking_uid = created["data"]["uid"]
        await call("GET", f"/v2/bookings/{booking_uid}", "2024-08-13", 200)
        moved = await call(
            "POST", f"/v2/bookings/{booking_uid}/reschedule", "2024-08-13", 201,
            json={"start": (start + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")},
        )  # fmt: skip
        await call(
            "POST", f"/v2/bookings/{moved['data']['uid']}/cancel", "2024-08-13", 200,
            json={"cancellationReason": "x"},
        )  # fmt: skip
        await call("GET", "/v2/bookings", "2024-08-13", 200, params={"take": 5})
        await call("GET", f"/v2/slots/reservations/{uid}", "2024-09-04", 200)
        deleted = await http.delete(
            f"/v2/slots/reservations/{uid}", headers={"cal-api-version": "2024-09-04"}
        )
        assert deleted.json() == {"status": "success"}
        for fmt in ("time", "range"):
            slots = await http.get(
                "/v2/slots",
                headers={"cal-api-version": "2024-09-04"},
                params={
                    "eventTypeId": 1001,
                    "start": start.date().isoformat(),
                    "end": start.date().isoformat(),
                    "timeZone": "Europe/Berlin",
                    "format": fmt,
                },
            )
            assert slots.json()["status"] == "success"
            checks.append(("GET", "/v2/slots", 200, slots.json()))

    for method, path, status, answer in checks:
        if path == "/v2/slots":
            # The document's slots schema declares bare strings, but its examples (and the real
            # API) use objects (PROTOCOLS §1.5.3): check `data` against the range branch.
            schema = openapi.response_schema(method, path, status)["oneOf"][1]
            assert openapi.errors(schema, answer["data"]) == []
            for day in answer["data"].values():
                assert all(set(item) <= {"start", "end"} and "start" in item for item in day)
            continue
        if path == "/v2/slots/reservations/{uid}":
            # GetReservedSlotOutput's `data` refers to GetReservedSlotOutput itself (a loop in
            # the document); the reservation is the ReserveSlotOutput shape.
            schema = {"$ref": "#/components/schemas/ReserveSlotOutput_2024_09_04"}
            assert openapi.errors(schema, answer["data"]) == []
            continue
        schema = openapi.response_schema(method, path, status)
        assert openapi.errors(schema, answer) == [], (method, path)


async def test_error_envelope_has_calcoms_shape(calcom_standin: RunningStandin) -> None:
    async with httpx.AsyncClient(base_url=calcom_standin.base_url) as http:
        answer = await http.get(
            "/v2/bookings/nope",
            headers={"Authorization": "Bearer cal_x", "cal-api-version": "2024-08-13"},
        )
    assert answer.status_code == 404
    body = answer.json()
    assert body["status"] == "error"
    assert body["error"]["code"] == "NotFoundException"
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["details"]["statusCode"] == 404
    assert {"timestamp", "path"} <= set(body)
    assert answer.headers["X-RateLimit-Limit-Default"] == "120"
