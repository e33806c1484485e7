"""Validated input and output of the tenancy feature."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from askpro.kit.time import zone
from askpro.kit.types import DatabaseId

Id = DatabaseId
Name = Field(min_length=1, max_length=200)


def _check_zone(value: str | None) -> str | None:
    if value is not None:
        zone(value)
    return value


# Cal.com usernames: letters, digits, dots, dashes, underscores.
CALCOM_USERNAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


class CompanyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "Salon Lisa", "country": "DE"}]},
    )

    name: str = Field(min_length=1, max_length=200)
    country: str = Field(default="DE", pattern=r"^[A-Z]{2}$")
    time_zone: str = "Europe/Berlin"
    locale: str = Field(default="de", pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    price_per_minute_cents: int = Field(default=0, ge=0, le=100_000)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)
        return value


class CompanyUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"status": "suspended"}]}
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    time_zone: str | None = None
    locale: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    price_per_minute_cents: int | None = Field(default=None, ge=0, le=100_000)
    status: Literal["active", "suspended"] | None = None
    minimum_notice_minutes: int | None = Field(default=None, ge=0, le=10_080)
    booking_horizon_days: int | None = Field(default=None, ge=1, le=730)
    calcom_team_id: DatabaseId | None = Field(
        default=None, description="The Cal.com team of the staff: its schedules say who works."
    )

    _zone = field_validator("time_zone")(_check_zone)


class CompanyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    country: str
    time_zone: str
    locale: str
    price_per_minute_cents: int
    balance_cents: int
    status: str
    minimum_notice_minutes: int
    booking_horizon_days: int
    calcom_team_id: int | None
    created_at: dt.datetime


class BranchCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "Berlin Mitte", "time_zone": "Europe/Berlin"}]},
    )

    name: str = Name
    time_zone: str | None = None
    address: str | None = Field(default=None, max_length=500)

    _zone = field_validator("time_zone")(_check_zone)


class BranchUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"address": "Torstraße 1, Berlin"}]}
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    time_zone: str | None = None
    address: str | None = Field(default=None, max_length=500)

    _zone = field_validator("time_zone")(_check_zone)


class BranchOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    company_id: int
    name: str
    time_zone: str | None
    address: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


class PhoneNumberCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"number": "+49 30 5550001"}]}
    )

    number: str = Field(min_length=3, max_length=40, description="Any format; stored as E.164.")
    branch_id: DatabaseId | None = None
    retell_agent_id: str | None = Field(default=None, max_length=100)


class PhoneNumberUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"retell_agent_id": "agent_123"}]}
    )

    branch_id: DatabaseId | None = None
    retell_agent_id: str | None = Field(default=None, max_length=100)


class PhoneNumberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    company_id: int
    number: str
    branch_id: int | None
    retell_agent_id: str | None
    created_at: dt.datetime


class StaffCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "Anna", "email": "anna@x.de"}]}
    )

    name: str = Name
    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    branch_id: DatabaseId | None = None
    calcom_user_id: DatabaseId | None = Field(
        default=None, description="The member's Cal.com user id: hosts map to staff by it."
    )
    calcom_username: str | None = Field(
        default=None, pattern=CALCOM_USERNAME, description="The member's Cal.com username."
    )
    active: bool = True


class StaffUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"active": False}]})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    branch_id: DatabaseId | None = None
    calcom_user_id: DatabaseId | None = None
    calcom_username: str | None = Field(default=None, pattern=CALCOM_USERNAME)
    active: bool | None = None


class StaffOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    company_id: int
    branch_id: int | None
    name: str
    email: str | None
    calcom_user_id: int | None
    calcom_username: str | None
    active: bool
    created_at: dt.datetime


class ServiceStaffOut(StaffOut):
    """A member who performs the service, with their own Cal.com event type for it."""

    calcom_event_type_id: int | None = Field(
        description="The member's own event type for this service (their calendar); null: "
        "the service's event type applies."
    )


class ServiceStaffLink(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"calcom_event_type_id": 2001}]}
    )

    calcom_event_type_id: DatabaseId | None = Field(
        description="The member's own Cal.com event type for the service; null to unlink."
    )


class ServiceCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "Haircut", "duration_minutes": 30, "price_cents": 3500}]
        },
    )

    name: str = Name
    duration_minutes: int = Field(ge=1, le=1440)
    buffer_before_minutes: int = Field(default=0, ge=0, le=240)
    buffer_after_minutes: int = Field(default=0, ge=0, le=240)
    price_cents: int = Field(default=0, ge=0, le=10_000_000)
    calcom_event_type_id: DatabaseId | None = None
    minimum_notice_minutes: int | None = Field(default=None, ge=0, le=10_080)
    active: bool = True


class ServiceUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"price_cents": 3900}]}
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    duration_minutes: int | None = Field(default=None, ge=1, le=1440)
    buffer_before_minutes: int | None = Field(default=None, ge=0, le=240)
    buffer_after_minutes: int | None = Field(default=None, ge=0, le=240)
    price_cents: int | None = Field(default=None, ge=0, le=10_000_000)
    calcom_event_type_id: DatabaseId | None = None
    minimum_notice_minutes: int | None = Field(default=None, ge=0, le=10_080)
    active: bool | None = None


class ServiceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    company_id: int
    name: str
    duration_minutes: int
    buffer_before_minutes: int
    buffer_after_minutes: int
    price_cents: int
    calcom_event_type_id: int | None
    minimum_notice_minutes: int | None
    active: bool
    created_at: dt.datetime


class ServiceStaffUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"staff_ids": []}]})

    staff_ids: list[Id] = Field(
        max_length=500, description="The complete set of staff members who perform the service."
    )
