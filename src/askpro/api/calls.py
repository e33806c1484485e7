"""/api/v1/calls — reading calls, their transcripts and the appointments they booked."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from askpro.api.deps import (
    Id,
    Instant,
    Page,
    Paging,
    Principal,
    Session,
    page_of,
    require_ordered_range,
    requires,
)
from askpro.auth.scopes import Scope
from askpro.calls import queries
from askpro.calls.queries import CallDetail, CallOut
from askpro.kit.problems import Problem

router = APIRouter(prefix="/calls", tags=["calls"])
Reader = Annotated[Principal, requires(Scope.CALLS_READ)]
Status = Literal["registered", "ongoing", "ended", "not_connected", "error"]


@router.get("", summary="List calls, newest first")
async def list_calls(
    principal: Reader,
    session: Session,
    paging: Paging,
    since: Annotated[
        Instant | None, Query(description="started_at from (inclusive), with offset.")
    ] = None,
    until: Annotated[
        Instant | None, Query(description="started_at before (exclusive), with offset.")
    ] = None,
    customer_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    status: Annotated[list[Status] | None, Query(description="Repeat for several.")] = None,
) -> Page[CallOut]:
    require_ordered_range(since, until, start_name="since", end_name="until")
    rows, cursor = await queries.list_calls(
        session,
        principal.tenant(),
        paging,
        since=since,
        until=until,
        customer_id=customer_id,
        statuses=list(status) if status else None,
    )
    return Page[CallOut](**page_of(CallOut, rows, cursor))


@router.get("/{call_id}", summary="Show a call with transcript, analysis and its appointments")
async def get_call(principal: Reader, session: Session, call_id: Id) -> CallDetail:
    call = await queries.get_call(session, principal.tenant(), call_id)
    if call is None:
        raise Problem(404, "not-found", "Call not found")
    return call
