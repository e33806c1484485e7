"""The agent tools' arguments (what the LLM fills in) and the answers they get."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

PartOfDay = Literal["morning", "afternoon", "evening"]


class ToolArgs(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class CheckAvailabilityArgs(ToolArgs):
    service: str = Field(min_length=1, description="Service name as the caller said it.")
    date: dt.date | None = Field(default=None, description="Day asked for (YYYY-MM-DD).")
    time: dt.time | None = Field(default=None, description="Exact time asked for (HH:MM).")
    part_of_day: PartOfDay | None = None
    staff: str | None = Field(default=None, description="Staff member's name, if any.")


class BookAppointmentArgs(ToolArgs):
    service: str = Field(min_length=1)
    date: dt.date
    time: dt.time
    staff: str | None = None
    customer_name: str | None = None
    email: str | None = None
    notes: str | None = Field(default=None, max_length=1000)


class FindAppointmentsArgs(ToolArgs):
    pass


class RescheduleAppointmentArgs(ToolArgs):
    appointment_id: int | None = None
    new_date: dt.date
    new_time: dt.time


class CancelAppointmentArgs(ToolArgs):
    appointment_id: int | None = None
    reason: str | None = Field(default=None, max_length=200)


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


TOOL_ARGS: dict[str, type[ToolArgs]] = {
    "check_availability": CheckAvailabilityArgs,
    "book_appointment": BookAppointmentArgs,
    "find_appointments": FindAppointmentsArgs,
    "reschedule_appointment": RescheduleAppointmentArgs,
    "cancel_appointment": CancelAppointmentArgs,
}
# Tools whose repeated delivery must give the first answer (they change the book).
STORED_ANSWER_TOOLS = frozenset(
    {"book_appointment", "reschedule_appointment", "cancel_appointment"}
)


def tool_parameter_schemas() -> dict[str, dict[str, Any]]:
    """JSON schemas of the tool parameters, ready to paste into the Retell agent."""
    return {name: model.model_json_schema() for name, model in TOOL_ARGS.items()}
