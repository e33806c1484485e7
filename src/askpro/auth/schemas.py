"""Validated input and output of tokens and the audit log."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from askpro.auth.scopes import Scope


class TokenCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "booking widget", "scopes": ["appointments:read"], "expires_in_days": 90}
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    scopes: list[Scope] = Field(min_length=1, max_length=len(Scope))
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    public_id: str
    company_id: int | None
    name: str
    scopes: list[str]
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="The token itself; shown only in this response.")


class AuditLogOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    occurred_at: dt.datetime
    kind: str
    token_id: int | None
    company_id: int | None
    method: str
    path: str
    route: str | None
    resource_id: str | None
    status: int
    client_ip: str | None
    correlation_id: str | None
