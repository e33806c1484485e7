"""The stand-in's HTTP surface: the Cal.com v2 endpoints askpro uses, with Cal.com's
envelopes, error format, throttler headers and knobs for latency and failures."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from askpro.integrations.calcom.dtos import ATTENDEE_LANGUAGES
from askpro.integrations.calcom.standin.envelopes import (
    SLOT_TAKEN,
    THROTTLED,
    ApiError,
    Throttler,
    error_envelope,
    injected_fault,
    ok,
)
from askpro.integrations.calcom.standin.listing import list_bookings_answer
from askpro.integrations.calcom.standin.state import (
    OWNER_ID,
    RecordedRequest,
    StandinEventType,
    StandinState,
    parse_time,
    wire_time,
)

VERSIONS = {
    "event-types": {"2024-06-14"},
    "schedules": {"2024-06-11"},
    "slots": {"2024-09-04"},
    "bookings": {"2024-08-13", "2026-02-25"},
}


def create_standin_app(state: StandinState | None = None) -> Starlette:
    """An ASGI app serving Cal.com API v2 (the parts askpro uses) from ``state``."""
    state = state or StandinState()
    throttler = Throttler()

    def endpoint(
        family: str | None, handler: Callable[[Request, Any], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            raw = await request.body()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = ValueError
            path = request.url.path
            state.requests.append(
                RecordedRequest(
                    request.method,
                    path,
                    dict(request.query_params),
                    request.headers.get("cal-api-version"),
                    None if body is ValueError else body,
                )
            )
            faults = state.faults
            if faults.latency_seconds:
                await asyncio.sleep(faults.latency_seconds)
            if faults.down:
                return Response("<html>502 Bad Gateway</html>", 502, media_type="text/html")
            key = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not state.key_valid(key):
                return JSONResponse(error_envelope(401, "Invalid API Key", str(request.url)), 401)
            tracker = "api_key_" + hashlib.sha256(key.encode()).hexdigest()
            allowed, limit_headers = throttler.hit(tracker, state.rate_limit_per_minute)
            injected = await injected_fault(state, path, request)
            if injected is not None:
                return injected
            if not allowed:
                throttled = JSONResponse(error_envelope(429, THROTTLED, str(request.url)), 429)
                throttled.headers.update(limit_headers)
                return throttled
            answer: Response
            try:
                if family is not None and state.strict_api_versions:
                    version = request.headers.get("cal-api-version")
                    if version not in VERSIONS[family]:
                        raise ApiError(
                            400,
                            f"stand-in: cal-api-version must be one of {sorted(VERSIONS[family])}"
                            f" for /v2/{family}, got {version!r}",
                        )
                if body is ValueError:
                    raise ApiError(400, "Unexpected token in JSON body")
                with state.lock:
                    answer = await handler(request, body)
                    if request.method != "GET":
                        state.save()
            except ApiError as error:
                answer = JSONResponse(
                    error_envelope(error.status, error.message, str(request.url)), error.status
                )
            if state.faults.lost_responses > 0 and path.startswith(state.faults.path_prefix):
                state.faults.lost_responses -= 1
                return Response("<html>502 Bad Gateway</html>", 502, media_type="text/html")
            if state.faults.garbled_responses > 0 and path.startswith(state.faults.path_prefix):
                state.faults.garbled_responses -= 1
                return Response('{"status": "succ', 200, media_type="application/json")
            answer.headers.update(limit_headers)
            answer.headers["X-Request-Id"] = secrets.token_hex(8)
            return answer

        return run

    async def get_event_types(request: Request, _body: Any) -> Response:
        """The key user's (the owner's) event types, or those of ``?username=``."""
        username = request.query_params.get("username")
        owner = next(
            (user.id for user in state.users.values() if user.username == username),
            None if username else OWNER_ID,
        )
        return ok(
            [
                event_type.to_wire(state.users)
                for event_type in state.event_types.values()
                if event_type.team_id is None and event_type.owner_id == owner
            ]
        )

    async def get_team_event_types(request: Request, _body: Any) -> Response:
        team_id = int(request.path_params["team_id"])
        if team_id not in state.teams:
            raise ApiError(404, f"Team with id={team_id} not found")
        return ok(
            [
                event_type.to_wire(state.users)
                for event_type in state.event_types.values()
                if event_type.team_id == team_id
            ]
        )

    async def get_schedules(_request: Request, _body: Any) -> Response:
        return ok([state.users[OWNER_ID].schedule.to_wire()])

    async def get_team_schedules(request: Request, _body: Any) -> Response:
        """Every member's schedule (the key is the team's admin: the account owner)."""
        team_id = int(request.path_params["team_id"])
        if team_id not in state.teams:
            raise ApiError(404, f"Team with id={team_id} not found")
        members = [state.users[user_id] for user_id in state.teams[team_id]]
        return ok([member.schedule.to_wire() for member in members])

    async def get_me(_request: Request, _body: Any) -> Response:
        owner = state.users[OWNER_ID]
        return ok(
            {
                "id": owner.id,
                "username": owner.username,
                "email": owner.email,
                "timeFormat": 24,
                "defaultScheduleId": owner.schedule.owner_id,
                "weekStart": "Monday",
                "timeZone": owner.time_zone,
                "organizationId": None,
            }
        )

    def find_event_type(value: Any) -> StandinEventType:
        try:
            event_type = state.event_types.get(int(value))
        except (TypeError, ValueError):
            raise ApiError(400, "eventTypeId must be a number") from None
        if event_type is None:
            raise ApiError(404, f"Event type with id={value} not found")
        return event_type

    async def get_slots(request: Request, _body: Any) -> Response:
        query = request.query_params
        if "start" not in query or "end" not in query:
            raise ApiError(400, "start and end are required")
        event_type = find_event_type(query.get("eventTypeId"))
        try:
            start = parse_time(query["start"])
            end = parse_time(query["end"], end_of_day=True)
            zone: dt.tzinfo = ZoneInfo(query["timeZone"]) if query.get("timeZone") else dt.UTC
        except (ValueError, ZoneInfoNotFoundError) as error:
            raise ApiError(400, f"invalid query: {error}") from None
        duration = int(query["duration"]) if query.get("duration") else None
        length = dt.timedelta(minutes=duration or event_type.length_minutes)
        days: dict[str, list[dict[str, str]]] = {}
        ignore = query.get("bookingUidToReschedule")
        for slot in state.free_starts(
            event_type, start, end, length_minutes=duration, ignore_uid=ignore
        ):
            item = {"start": wire_time(slot, zone)}
            if query.get("format") == "range":
                item["end"] = wire_time(slot + length, zone)
            days.setdefault(slot.astimezone(zone).date().isoformat(), []).append(item)
        return ok(days)

    def require(body: Any, *names: str) -> None:
        missing = [
            name for name in names if not isinstance(body, dict) or body.get(name) in (None, "")
        ]
        if missing:
            raise ApiError(400, ", ".join(f"{name} - Required" for name in missing))

    def start_of(body: dict[str, Any], name: str) -> dt.datetime:
        try:
            return parse_time(str(body[name])).astimezone(dt.UTC)
        except ValueError:
            raise ApiError(400, f"{name} must be an ISO 8601 date string in UTC") from None

    async def reserve_slot(_request: Request, body: Any) -> Response:
        require(body, "eventTypeId", "slotStart")
        event_type = find_event_type(body["eventTypeId"])
        start = start_of(body, "slotStart")
        if not state.is_free(event_type, start):
            raise ApiError(400, SLOT_TAKEN)
        minutes = int(body.get("slotDuration") or event_type.length_minutes)
        hold = int(body.get("reservationDuration") or 5)
        reservation: dict[str, Any] = {
            "eventTypeId": event_type.id,
            "slotStart": wire_time(start),
            "slotEnd": wire_time(start + dt.timedelta(minutes=minutes)),
            "slotDuration": minutes,
            "reservationUid": secrets.token_hex(16),
            "reservationDuration": hold,
            "reservationUntil": wire_time(state.now() + dt.timedelta(minutes=hold)),
        }
        state.reservations[reservation["reservationUid"]] = reservation
        return ok(reservation, 201)

    async def reservation(request: Request, _body: Any) -> Response:
        uid = request.path_params["uid"]
        if uid not in state.reservations:
            raise ApiError(404, f"Reserved slot with uid={uid} not found")
        if request.method == "DELETE":
            del state.reservations[uid]
            return JSONResponse({"status": "success"})
        return ok(state.reservations[uid])

    def booking_or_404(uid: str) -> dict[str, Any]:
        booking = state.bookings.get(uid)
        if booking is None:
            raise ApiError(404, f"Booking with uid={uid} not found")
        return booking

    async def create_booking(_request: Request, body: Any) -> Response:
        require(body, "start", "attendee")
        attendee = body["attendee"]
        require(attendee, "name", "timeZone")
        if not attendee.get("email"):
            raise ApiError(400, "attendee.email - Required (the event type's email field)")
        if "eventTypeId" in body:
            event_type = find_event_type(body["eventTypeId"])
        else:
            slug = body.get("eventTypeSlug")
            matches = [et for et in state.event_types.values() if et.slug == slug]
            if not matches:
                raise ApiError(404, f"Event type with slug={slug} not found")
            event_type = matches[0]
        start = start_of(body, "start")
        host = state.assign_host(event_type, start)
        if host is None:
            raise ApiError(400, SLOT_TAKEN)
        language = attendee.get("language")
        if language is not None and language not in ATTENDEE_LANGUAGES:
            raise ApiError(400, f"attendee.language - Invalid enum value, got {language!r}")
        booking = state.new_booking(
            event_type,
            start,
            attendee,
            host=host,
            metadata=body.get("metadata"),
            guests=body.get("guests"),
            booking_fields=body.get("bookingFieldsResponses"),
        )
        return ok(state.wire_booking(booking), 201)

    async def get_booking(request: Request, _body: Any) -> Response:
        return ok(state.wire_booking(booking_or_404(request.path_params["uid"])))

    async def reschedule_booking(request: Request, body: Any) -> Response:
        old = booking_or_404(request.path_params["uid"])
        require(body, "start")
        if old["status"] == "cancelled":
            raise ApiError(400, "Can't reschedule a cancelled booking")
        event_type = find_event_type(old["eventType"]["id"])
        start = start_of(body, "start")
        # Cal.com keeps the host when it is free (rescheduleWithSameRoundRobinHost).
        host = state.host_of(old)
        if host is None or host.id not in state.free_hosts(
            event_type, start, ignore_uid=old["uid"]
        ):
            host = state.assign_host(event_type, start, ignore_uid=old["uid"])
        if host is None:
            raise ApiError(400, SLOT_TAKEN)
        new = state.new_booking(
            event_type,
            start,
            old["attendees"][0],
            host=host,
            metadata=old.get("metadata"),
            guests=old.get("guests"),
        )
        new["rescheduledFromUid"] = old["uid"]
        if body.get("reschedulingReason"):
            new["reschedulingReason"] = body["reschedulingReason"]
        if body.get("rescheduledBy"):
            new["rescheduledByEmail"] = body["rescheduledBy"]
        old["status"] = "cancelled"
        old["rescheduledToUid"] = new["uid"]
        state.touch(old)
        return ok(state.wire_booking(new), 201)

    async def cancel_booking(request: Request, body: Any) -> Response:
        booking = booking_or_404(request.path_params["uid"])
        if booking["status"] == "cancelled":
            raise ApiError(400, "This booking has already been cancelled.")
        booking["status"] = "cancelled"
        if isinstance(body, dict) and body.get("cancellationReason"):
            booking["cancellationReason"] = body["cancellationReason"]
        state.touch(booking)
        return ok(state.wire_booking(booking))

    async def list_bookings(request: Request, _body: Any) -> Response:
        return list_bookings_answer(state, request)

    routes = [
        Route("/v2/event-types", endpoint("event-types", get_event_types), methods=["GET"]),
        Route("/v2/schedules", endpoint("schedules", get_schedules), methods=["GET"]),
        Route(
            "/v2/teams/{team_id:int}/schedules",
            endpoint(None, get_team_schedules),
            methods=["GET"],
        ),
        Route(
            "/v2/teams/{team_id:int}/event-types",
            endpoint(None, get_team_event_types),
            methods=["GET"],
        ),
        Route("/v2/me", endpoint(None, get_me), methods=["GET"]),
        Route("/v2/slots", endpoint("slots", get_slots), methods=["GET"]),
        Route("/v2/slots/reservations", endpoint("slots", reserve_slot), methods=["POST"]),
        Route(
            "/v2/slots/reservations/{uid}",
            endpoint("slots", reservation),
            methods=["GET", "DELETE"],
        ),
        Route("/v2/bookings", endpoint("bookings", create_booking), methods=["POST"]),
        Route("/v2/bookings", endpoint("bookings", list_bookings), methods=["GET"]),
        Route("/v2/bookings/{uid}", endpoint("bookings", get_booking), methods=["GET"]),
        Route(
            "/v2/bookings/{uid}/reschedule",
            endpoint("bookings", reschedule_booking),
            methods=["POST"],
        ),
        Route("/v2/bookings/{uid}/cancel", endpoint("bookings", cancel_booking), methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.standin = state
    return app
