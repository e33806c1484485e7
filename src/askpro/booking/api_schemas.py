"""Validated input and output of the appointments API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from askpro.booking.queries import AppointmentOut
from askpro.kit.types import DatabaseId, Instant

Id = DatabaseId
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)


def _in_range(value: dt.datetime) -> dt.datetime:
    # Far-off instants would overflow date arithmetic (alternatives, day windows).
    if not EARLIEST <= value < LATEST:
        raise ValueError("must be between 2000 and 2200")
    return value


Start = Annotated[Instant, AfterValidator(_in_range)]
# A far-off Monday 10:00 in Berlin: the example is the shape, not a bookable time.
EXAMPLE_START = "2030-01-07T10:00:00+01:00"


class CustomerRef(BaseModel):
    """A customer by number: found, or created when new (merged customers resolve)."""

    model_config = ConfigDict(extra="forbid")

    phone: str = Field(min_length=3, max_length=40, description="Any format; matched as E.164.")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, min_length=3, max_length=320, pattern=r"^[^@\s]+@\S+$")


class AppointmentCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "service_id": 1,
                    "staff_id": None,
                    "branch_id": None,
                    "customer": {"phone": "+49 151 23456789", "name": "Lisa Weber"},
                    "starts_at": EXAMPLE_START,
                    "notes": "Booked by the front desk",
                }
            ],
            # What _one_customer checks, stated in the schema: exactly one is non-null.
            "oneOf": [
                {"required": ["customer_id"], "properties": {"customer_id": {"type": "integer"}}},
                {"required": ["customer"], "properties": {"customer": {"type": "object"}}},
            ],
        },
    )

    service_id: Id
    staff_id: Id | None = Field(default=None, description="Omit for any qualified staff.")
    branch_id: Id | None = None
    customer_id: Id | None = Field(default=None, description="Give this or customer.")
    customer: CustomerRef | None = Field(default=None, description="Give this or customer_id.")
    starts_at: Start = Field(description="ISO 8601 with offset.")
    notes: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _one_customer(self) -> AppointmentCreate:
        if (self.customer_id is None) == (self.customer is None):
            raise ValueError("give exactly one of customer_id and customer")
        return self


class RescheduleRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"starts_at": EXAMPLE_START}]}
    )

    starts_at: Start = Field(description="The new start, ISO 8601 with offset.")


class AppointmentEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    actor: str
    channel: str
    changes: dict[str, Any]
    created_at: dt.datetime


class AppointmentDetail(AppointmentOut):
    history: list[AppointmentEventOut] = Field(description="Every change, oldest first.")


class AlternativeOut(BaseModel):
    starts_at: dt.datetime
    ends_at: dt.datetime
    staff_ids: list[int]
