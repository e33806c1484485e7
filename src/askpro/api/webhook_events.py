"""/api/v1/webhook-events — the webhook inbox: list, show, replay one, replay by filter.

A company token sees only its company's events; a platform token naming no company sees
all of them (also those no company could be resolved for). The scoping happens in the
webhook repository, never here.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from askpro.api.deps import (
    Id,
    Instant,
    Page,
    Paging,
    Principal,
    Session,
    require_ordered_range,
    requires,
)
from askpro.auth import repository as tokens
from askpro.auth.audit import audit_as
from askpro.auth.scopes import Scope
from askpro.kit.problems import Problem
from askpro.webhooks import service
from askpro.webhooks.schemas import (
    WebhookEventDetail,
    WebhookEventOut,
    WebhookProvider,
    WebhookReplayFilter,
    WebhookReplayOut,
    WebhookStatus,
)

router = APIRouter(prefix="/webhook-events", tags=["webhook events"])
Reader = Annotated[Principal, requires(Scope.WEBHOOKS_READ)]
Replayer = Annotated[Principal, requires(Scope.WEBHOOKS_REPLAY)]


def _not_found() -> Problem:
    return Problem(404, "not-found", "Webhook event not found")


async def _actor(session: Session, principal: Principal) -> str:
    """Who replays, as recorded on the event: the token's id and name."""
    token = await tokens.get_token(session, None, principal.token_id)
    name = token.name if token is not None else "?"
    return f"api-token:{principal.token_id}:{name}"


@router.get("", summary="List received webhook events, newest first")
async def list_webhook_events(
    principal: Reader,
    session: Session,
    paging: Paging,
    provider: WebhookProvider | None = None,
    status: Annotated[list[WebhookStatus] | None, Query(description="Repeat for several.")] = None,
    event_type: Annotated[
        str | None, Query(min_length=1, max_length=100, examples=["invoice.paid"])
    ] = None,
    since: Annotated[
        Instant | None, Query(description="Received at or after; ISO 8601 with offset.")
    ] = None,
    until: Annotated[
        Instant | None, Query(description="Received before; ISO 8601 with offset.")
    ] = None,
) -> Page[WebhookEventOut]:
    require_ordered_range(since, until, start_name="since", end_name="until")
    items, cursor = await service.page_events(
        session,
        principal.company_id,
        paging,
        providers=[provider] if provider else (),
        statuses=list(status or ()),
        event_types=[event_type] if event_type else (),
        since=since,
        until=until,
    )
    return Page[WebhookEventOut](items=items, next_cursor=cursor)


@router.get(
    "/{webhook_event_id:int}",
    summary="Show a webhook event (signature headers hidden; the body while retained)",
)
async def get_webhook_event(
    principal: Reader, session: Session, webhook_event_id: Id
) -> WebhookEventDetail:
    event = await service.get_event(session, webhook_event_id, company_id=principal.company_id)
    if event is None:
        raise _not_found()
    return event


@router.post(
    "/replay",
    summary="Replay failed or dead events by filter (at most 1000 per request, oldest first)",
)
async def replay_webhook_events(
    principal: Replayer, session: Session, request: Request, body: WebhookReplayFilter
) -> WebhookReplayOut:
    audit_as(request, "replay")
    result = await service.replay_status(
        session,
        body.status,
        await _actor(session, principal),
        since=body.since,
        limit=body.limit,
        company_id=principal.company_id,
        provider=body.provider,
    )
    await session.commit()
    matched = len(result.replayed) + len(result.skipped)
    return WebhookReplayOut(
        count=len(result.replayed),
        replayed=result.replayed,
        skipped=result.skipped,
        limited=matched >= body.limit,
    )


@router.post(
    "/{webhook_event_id}/replay",
    summary="Replay one event: reset it and process it again (without re-verifying)",
    responses={409: {"description": "The event is in flight or its body was pruned."}},
)
async def replay_webhook_event(
    principal: Replayer, session: Session, request: Request, webhook_event_id: Id
) -> WebhookEventOut:
    audit_as(request, "replay")
    company_id = principal.company_id
    event = await service.get_event(session, webhook_event_id, company_id=company_id)
    if event is None:
        raise _not_found()
    actor = await _actor(session, principal)
    result = await service.replay(session, [webhook_event_id], actor, company_id=company_id)
    if not result.replayed:
        reason = "its body was pruned" if event.body_pruned_at else f"it is {event.status}"
        raise Problem(
            409,
            "not-replayable",
            "Event cannot be replayed now",
            f"the event cannot be replayed: {reason}",
        )
    await session.commit()
    replayed = await service.get_event(session, webhook_event_id, company_id=company_id)
    if replayed is None:  # deleted meanwhile (its company removed)
        raise _not_found()
    return WebhookEventOut.model_validate(replayed.model_dump())
