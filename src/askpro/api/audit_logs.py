"""/api/v1/audit-logs — newest first; a company sees its own rows."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from askpro.api.deps import Instant, Page, Paging, Principal, Session, page_of, requires
from askpro.auth import repository
from askpro.auth.schemas import AuditLogOut
from askpro.auth.scopes import Scope

router = APIRouter(prefix="/audit-logs", tags=["audit"])
Reader = Annotated[Principal, requires(Scope.AUDIT_READ)]


@router.get("", summary="Read the audit log")
async def list_audit_logs(
    principal: Reader,
    session: Session,
    paging: Paging,
    kind: Literal["write", "auth_failure", "replay"] | None = None,
    token_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    since: Annotated[Instant | None, Query(description="Inclusive, ISO 8601 with offset.")] = None,
    until: Annotated[Instant | None, Query(description="Exclusive, ISO 8601 with offset.")] = None,
) -> Page[AuditLogOut]:
    rows, cursor = await repository.list_audit_logs(
        session,
        principal.company_id,
        paging,
        kind=kind,
        token_id=token_id,
        since=since,
        until=until,
    )
    return Page[AuditLogOut](**page_of(AuditLogOut, rows, cursor))
