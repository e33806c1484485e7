"""The agent tools' arguments (what the LLM fills in) and the answers they get."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from askpro.kit.types import DatabaseId

PartOfDay = Literal["morning", "afternoon", "evening"]
# What an LLM may say is bounded here, at the edge: a date in year 1 or 9999 cannot become a
# time zone-aware instant (ids are bounded by DatabaseId).
CallDate = Annotated[dt.date, Field(ge=dt.date(2000, 1, 1), le=dt.date(2199, 12, 31))]


class ToolArgs(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul_characters(cls, value: Any) -> Any:
        # PostgreSQL text cannot hold NUL; refuse it as invalid input, not a server error.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("contains a NUL character")
        return value


class CheckAvailabilityArgs(ToolArgs):
    service: str = Field(min_length=1, description="Service name as the caller said it.")
    date: CallDate | None = Field(default=None, description="Day asked for (YYYY-MM-DD).")
    time: dt.time | None = Field(default=None, description="Exact time asked for (HH:MM).")
    part_of_day: PartOfDay | None = None
    staff: str | None = Field(default=None, description="Staff member's name, if any.")


class BookAppointmentArgs(ToolArgs):
    service: str = Field(min_length=1)
    date: CallDate
    time: dt.time
    staff: str | None = None
    customer_name: str | None = None
    email: str | None = None
    notes: str | None = Field(default=None, max_length=1000)


class FindAppointmentsArgs(ToolArgs):
    pass


class RescheduleAppointmentArgs(ToolArgs):
    appointment_id: DatabaseId | None = None
    new_date: CallDate
    new_time: dt.time


class CancelAppointmentArgs(ToolArgs):
    appointment_id: DatabaseId | None = None
    reason: str | None = Field(default=None, max_length=200)


Urgency = Literal["low", "normal", "high"]


class TakeMessageArgs(ToolArgs):
    message: str = Field(min_length=1, max_length=4000, description="In the caller's words.")
    caller_name: str | None = Field(default=None, max_length=200)
    caller_number: str | None = Field(
        default=None, max_length=40, description="A number to call back, if not this line's."
    )
    urgency: Urgency = "normal"


class RequestCallbackArgs(ToolArgs):
    preferred_window: str | None = Field(
        default=None, max_length=200, description="When the caller wants to be called back."
    )
    reason: str | None = Field(default=None, max_length=4000)
    caller_name: str | None = Field(default=None, max_length=200)
    caller_number: str | None = Field(default=None, max_length=40)
    urgency: Urgency = "normal"


class ToolRequest(BaseModel):
    """Retell's custom-function body: ``{name, call, args}``."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = None
    call: dict[str, Any] = Field(default_factory=dict)
    args: dict[str, Any] = Field(default_factory=dict)

    @field_validator("call", "args", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value


_DATE = {
    "type": "string",
    "format": "date",
    "description": "Day in the business's time zone, YYYY-MM-DD.",
}
_TIME = {
    "type": "string",
    "pattern": "^[0-2][0-9]:[0-5][0-9]$",
    "description": "Local time, HH:MM (24 h).",
}
_SERVICE = {"type": "string", "description": "The service the caller wants, e.g. 'Haircut'."}
_STAFF = {"type": "string", "description": "Staff member the caller asked for (optional)."}
_APPOINTMENT_ID = {
    "type": "integer",
    "description": "Id from find_appointments; omit when the caller has one upcoming appointment.",
}

# The custom functions to configure on the Retell agent (POST, "Payload: args only" OFF).
RETELL_TOOLS: list[dict[str, Any]] = [
    {
        "name": "check_availability",
        "description": "Find free times for a service. With date and time: check that exact "
        "time and hold it for this call for 5 minutes. With a date only: up to 3 free times "
        "that day. With neither: the next 3 free times.",
        "parameters": {
            "type": "object",
            "properties": {
                "service": _SERVICE,
                "date": _DATE,
                "time": _TIME,
                "part_of_day": {"type": "string", "enum": ["morning", "afternoon", "evening"]},
                "staff": _STAFF,
            },
            "required": ["service"],
        },
    },
    {
        "name": "book_appointment",
        "description": "Book the time the caller confirmed. Say the returned message.",
        "parameters": {
            "type": "object",
            "properties": {
                "service": _SERVICE,
                "date": _DATE,
                "time": _TIME,
                "staff": _STAFF,
                "customer_name": {"type": "string", "description": "The caller's name."},
                "email": {"type": "string", "description": "The caller's e-mail (optional)."},
                "notes": {"type": "string", "description": "Anything the business should know."},
            },
            "required": ["service", "date", "time"],
        },
    },
    {
        "name": "find_appointments",
        "description": "The caller's upcoming appointments, found by their phone number.",
        "parameters": {"type": "object", "properties": {}, "required": []},
    },
    {
        "name": "reschedule_appointment",
        "description": "Move the caller's appointment to a new date and time.",
        "parameters": {
            "type": "object",
            "properties": {"appointment_id": _APPOINTMENT_ID, "new_date": _DATE, "new_time": _TIME},
            "required": ["new_date", "new_time"],
        },
    },
    {
        "name": "cancel_appointment",
        "description": "Cancel the caller's appointment.",
        "parameters": {
            "type": "object",
            "properties": {
                "appointment_id": _APPOINTMENT_ID,
                "reason": {"type": "string", "description": "Why, in the caller's words."},
            },
            "required": [],
        },
    },
    {
        "name": "take_message",
        "description": "Take a message for the business when you cannot book (take_message "
        "mode, no free time, the caller wants a person). Say the returned message.",
        "parameters": {
            "type": "object",
            "properties": {
                "message": {"type": "string", "description": "The message, in the caller's words."},
                "caller_name": {"type": "string", "description": "The caller's name."},
                "caller_number": {
                    "type": "string",
                    "description": "A number to call back, if not the one calling.",
                },
                "urgency": {"type": "string", "enum": ["low", "normal", "high"]},
            },
            "required": ["message"],
        },
    },
    {
        "name": "request_callback",
        "description": "Ask the business to call the caller back (optionally in a time window).",
        "parameters": {
            "type": "object",
            "properties": {
                "preferred_window": {
                    "type": "string",
                    "description": "When to call back, e.g. 'tomorrow morning'.",
                },
                "reason": {"type": "string", "description": "What it is about."},
                "caller_name": {"type": "string", "description": "The caller's name."},
                "caller_number": {
                    "type": "string",
                    "description": "A number to call back, if not the one calling.",
                },
                "urgency": {"type": "string", "enum": ["low", "normal", "high"]},
            },
            "required": [],
        },
    },
]
