"""Validated input and output of the tenancy feature."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator

from askpro.kit.time import zone


class CompanyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

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
    created_at: dt.datetime
