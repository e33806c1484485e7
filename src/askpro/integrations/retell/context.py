"""What every tool handler gets (:class:`ToolContext`) and the shape of every answer.

Every answer is ``{"outcome", "message", "options", "appointment"}``: a typed outcome, one
sentence the agent can say in the company's language (times in the branch's zone, at most
three options) and the data behind it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.booking.gateway import CalendarGateway
from askpro.booking.schemas import AppointmentView, BookingResult, Outcome, Slot
from askpro.integrations.retell import messages
from askpro.integrations.retell.catalog import CatalogEntry
from askpro.kit.time import zone
from askpro.models import Company
from askpro.runtime import Runtime
from askpro.tenancy.service import Route


class MessageOutcome(StrEnum):
    """Outcomes of the message tools (the booking outcomes are booking's)."""

    MESSAGE_TAKEN = "message_taken"
    CALLBACK_REQUESTED = "callback_requested"


# Outcomes after which the agent should offer a message or a call-back instead.
NO_FREE_TIME = frozenset({Outcome.SLOT_TAKEN, Outcome.OUTSIDE_HOURS, Outcome.TOO_SOON})
MESSAGE_TOOLS = ["take_message", "request_callback"]


@dataclass
class ToolContext:
    runtime: Runtime
    route: Route
    time_zone: str
    locale: str
    gateway: CalendarGateway | None
    now: dt.datetime
    call_id: str | None
    call_row_id: int | None
    customer_id: int | None
    caller_number: str | None
    # Seconds-old company/services/staff for read-only calls (see catalog.py).
    catalog: CatalogEntry | None = None

    @property
    def company(self) -> Company:
        return self.route.company

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only: autocommit, no BEGIN/ROLLBACK round trips around them."""
        async with self.runtime.database.autocommit_sessions() as session:
            yield session


def answer(
    outcome: Outcome | MessageOutcome,
    message: str,
    *,
    time_zone: str = "Europe/Berlin",
    options: list[Slot] | None = None,
    appointment: AppointmentView | None = None,
    appointments: list[AppointmentView] | None = None,
    missing: list[str] | None = None,
    reason: str | None = None,
    locale: str = "de",
) -> dict[str, Any]:
    tz = zone(time_zone)
    body: dict[str, Any] = {"outcome": outcome.value, "message": message}
    body["options"] = [
        {"start": slot.start.astimezone(tz).isoformat(), "end": slot.end.astimezone(tz).isoformat()}
        for slot in (options or [])[:3]
    ]
    body["appointment"] = _appointment(appointment, tz) if appointment else None
    if appointments is not None:
        body["appointments"] = [_appointment(item, tz) for item in appointments]
    if missing:
        body["missing"] = missing
    if reason:
        body["reason"] = reason
    if outcome in NO_FREE_TIME and not options:
        # Nothing to offer: point the agent at the message tools, in the catalogue's words.
        body["message"] = f"{message} {messages.offer_message_tools(locale)}"
        body["suggested_tools"] = MESSAGE_TOOLS
    return body


def _appointment(view: AppointmentView, tz: dt.tzinfo) -> dict[str, Any]:
    return {
        "id": view.id,
        "start": view.start.astimezone(tz).isoformat(),
        "end": view.end.astimezone(tz).isoformat(),
        "service": view.service_name,
        "staff": view.staff_name,
        "status": view.status,
        "confirmed": view.calcom_sync_state in ("synced", "not_required"),
    }


def from_result(result: BookingResult, context: ToolContext) -> dict[str, Any]:
    return answer(
        result.outcome,
        messages.booking_message(result, context.locale),
        time_zone=result.time_zone,
        options=result.alternatives,
        appointment=result.appointment,
        reason=result.reason,
        locale=context.locale,
    )


def invalid(
    locale: str, missing: list[str], detail: str | None = None, *, offered: list[str] | None = None
) -> dict[str, Any]:
    """``invalid_request``: the spoken sentence from the catalogue in the company's
    language; ``detail`` (for developers) goes to ``reason`` only."""
    return answer(
        Outcome.INVALID_REQUEST,
        messages.invalid_message(locale, missing, offered=offered or ()),
        missing=missing,
        reason=detail,
        locale=locale,
    )


def validation_missing(error: ValidationError) -> list[str]:
    return sorted(
        {".".join(str(part) for part in item["loc"]) or "args" for item in error.errors()}
    )
