"""Validated input and output of the customers API."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from askpro.kit.types import DatabaseId

Id = DatabaseId
Phone = Field(default=None, min_length=3, max_length=40, description="Any format; stored as E.164.")
Email = Field(default=None, min_length=3, max_length=320, pattern=r"^\s*[^@\s]+@[^@\s]+\s*$")


class CustomerCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"phone": "+49 151 23456789", "name": "Lisa Weber", "email": None}]
        },
    )

    phone: str | None = Phone
    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Email
    notes: str | None = Field(default=None, max_length=10_000)


class CustomerUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "Lisa Weber-Schmidt"}]}
    )

    phone: str | None = Phone
    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Email
    notes: str | None = Field(default=None, max_length=10_000)


class CustomerMergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"loser_ids": [2]}]})

    loser_ids: list[Id] = Field(
        min_length=1, max_length=50, description="Customers merged into this one."
    )


class CustomerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    company_id: int
    name: str | None
    phone: str | None
    email: str | None
    notes: str | None
    merged_into_id: int | None = Field(
        description="Set on a customer that was merged into another one."
    )
    created_at: dt.datetime
    updated_at: dt.datetime
