"""GET /v2/bookings of the stand-in: filters, sorting and pagination as Cal.com documents."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from askpro.integrations.calcom.standin.state import StandinState, parse_time


def _time_of(field: str) -> Callable[[dict[str, Any]], dt.datetime]:
    return lambda booking: parse_time(booking[field])


def list_bookings_answer(state: StandinState, request: Request) -> Response:
    query = request.query_params
    now = state.now()
    items = list(state.bookings.values())
    statuses = set(filter(None, query.get("status", "").split(",")))
    if statuses:

        def status_matches(booking: dict[str, Any]) -> bool:
            cancelled = booking["status"] in ("cancelled", "rejected")
            upcoming = parse_time(booking["end"]) >= now and not cancelled
            past = parse_time(booking["end"]) < now and not cancelled
            unconfirmed = booking["status"] == "pending"
            return (
                ("upcoming" in statuses and upcoming)
                or ("past" in statuses and past)
                or ("cancelled" in statuses and cancelled)
                or ("unconfirmed" in statuses and unconfirmed)
            )

        items = [booking for booking in items if status_matches(booking)]
    event_type_ids = {
        int(value)
        for value in (query.get("eventTypeIds", "") + "," + query.get("eventTypeId", "")).split(",")
        if value.strip()
    }
    if event_type_ids:
        items = [b for b in items if b["eventType"]["id"] in event_type_ids]
    if query.get("bookingUid"):
        items = [b for b in items if b["uid"] == query["bookingUid"]]
    if query.get("attendeeEmail"):
        email = query["attendeeEmail"].lower()
        items = [b for b in items if any(a["email"].lower() == email for a in b["attendees"])]
    if query.get("attendeeName"):
        name = query["attendeeName"].lower()
        items = [b for b in items if any(name in a["name"].lower() for a in b["attendees"])]
    for parameter, field, after in (
        ("afterStart", "start", True),
        ("beforeEnd", "end", False),
        ("afterCreatedAt", "createdAt", True),
        ("beforeCreatedAt", "createdAt", False),
        ("afterUpdatedAt", "updatedAt", True),
        ("beforeUpdatedAt", "updatedAt", False),
    ):
        if query.get(parameter):
            bound = parse_time(query[parameter])
            items = [
                b
                for b in items
                if (parse_time(b[field]) >= bound if after else parse_time(b[field]) <= bound)
            ]
    items.sort(key=lambda b: b["id"])
    for parameter, field in (
        ("sortStart", "start"),
        ("sortEnd", "end"),
        ("sortCreated", "createdAt"),
        ("sortUpdatedAt", "updatedAt"),
    ):
        if query.get(parameter) in ("asc", "desc"):
            items.sort(key=_time_of(field), reverse=query[parameter] == "desc")
    take = max(1, int(query.get("take") or 100))
    skip = 0 if state.faults.ignore_skip else max(0, int(query.get("skip") or 0))
    page = items[skip : skip + take]
    total = len(items)
    pagination = {
        "totalItems": total,
        "remainingItems": max(0, total - (skip + take)),
        "returnedItems": len(page),
        "itemsPerPage": take,
        "currentPage": skip // take + 1,
        "totalPages": math.ceil(total / take),
        "hasNextPage": skip + take < total,
        "hasPreviousPage": skip > 0,
    }
    if state.faults.endless_pages:
        pagination["hasNextPage"] = True  # a server that never says "done"
    data = [state.wire_booking(booking) for booking in page]
    return JSONResponse({"status": "success", "data": data, "pagination": pagination})
