"""Webhook events: filter, detail, replay one, replay a filter after confirming the count.

Reads and replays go through the webhooks service with the session's company (``None`` for
a platform session that chose "all companies"), so the scoping is the service's. Replays
are audited like the REST API's: kind ``replay``, the token, the company, the event id.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from askpro.auth.audit import audit_as
from askpro.auth.scopes import Scope
from askpro.kit.pagination import MAX_CURSOR_LENGTH, PageRequest
from askpro.kit.time import zone
from askpro.models.webhooks import WEBHOOK_STATUSES
from askpro.ops.dashboard import repository, sessions
from askpro.ops.dashboard.rendering import PREFIX, CurrentViewer, Session, page
from askpro.ops.dashboard.sessions import DashboardError, Viewer
from askpro.webhooks import service
from askpro.webhooks.ingest import queueing_lock
from askpro.webhooks.schemas import MAX_BULK_REPLAY

router = APIRouter(prefix="/webhooks")
PROVIDERS = ("retell", "calcom", "stripe")
BULK_STATUSES = ("failed", "dead")
PAGE_SIZE = 50
EventId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@dataclass(frozen=True)
class EventFilter:
    provider: str | None = None
    status: str | None = None
    event_type: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def query(self, **extra: str) -> str:
        values = {
            "provider": self.provider,
            "status": self.status,
            "event_type": self.event_type,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            **extra,
        }
        return urlencode({key: value for key, value in values.items() if value})


def _moment(raw: str | None, time_zone: str, name: str) -> dt.datetime | None:
    """``2026-12-01T10:00`` (a datetime-local input, in the company's zone) or ISO 8601."""
    if not raw:
        return None
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise DashboardError(422, "Invalid filter", f"{name}: not a date and time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone(time_zone))


def _event_filter(
    viewer: Viewer,
    provider: str | None,
    status: str | None,
    event_type: str | None,
    since: str | None,
    until: str | None,
) -> EventFilter:
    if provider and provider not in PROVIDERS:
        raise DashboardError(422, "Invalid filter", f"provider: one of {', '.join(PROVIDERS)}")
    if status and status not in WEBHOOK_STATUSES:
        raise DashboardError(422, "Invalid filter", "status: unknown")
    return EventFilter(
        provider=provider or None,
        status=status or None,
        event_type=(event_type or "").strip()[:100] or None,
        since=_moment(since, viewer.time_zone, "since"),
        until=_moment(until, viewer.time_zone, "until"),
    )


Text = Annotated[str | None, Query(max_length=100)]


@router.get("")
async def list_events(
    request: Request,
    session: Session,
    viewer: CurrentViewer,
    provider: Text = None,
    status: Text = None,
    event_type: Text = None,
    since: Text = None,
    until: Text = None,
    cursor: Annotated[str | None, Query(max_length=MAX_CURSOR_LENGTH)] = None,
) -> HTMLResponse:
    viewer.require(Scope.WEBHOOKS_READ)
    chosen = _event_filter(viewer, provider, status, event_type, since, until)
    events, next_cursor = await service.page_events(
        session,
        viewer.company_id,
        PageRequest(limit=PAGE_SIZE, cursor=cursor),
        providers=[chosen.provider] if chosen.provider else (),
        statuses=[chosen.status] if chosen.status else (),
        event_types=[chosen.event_type] if chosen.event_type else (),
        since=chosen.since,
        until=chosen.until,
    )
    return page(
        request,
        "webhooks.html",
        viewer,
        events=events,
        chosen=chosen,
        providers=PROVIDERS,
        statuses=WEBHOOK_STATUSES,
        bulk_statuses=BULK_STATUSES,
        next_query=chosen.query(cursor=next_cursor) if next_cursor else None,
    )


async def _bulk_ids(session: Session, viewer: Viewer, chosen: EventFilter) -> list[int]:
    if chosen.status not in BULK_STATUSES:
        raise DashboardError(422, "Invalid filter", "status: failed or dead")
    return await service.replayable_ids(
        session,
        chosen.status or "",
        since=chosen.since,
        limit=MAX_BULK_REPLAY,
        company_id=viewer.company_id,
        provider=chosen.provider,
    )


@router.get("/replay")
async def confirm_bulk_replay(
    request: Request,
    session: Session,
    viewer: CurrentViewer,
    provider: Text = None,
    status: Text = None,
    since: Text = None,
) -> HTMLResponse:
    viewer.require(Scope.WEBHOOKS_REPLAY)
    chosen = _event_filter(viewer, provider, status, None, since, None)
    ids = await _bulk_ids(session, viewer, chosen)
    return page(
        request, "replay_confirm.html", viewer, chosen=chosen, count=len(ids), changed=False
    )


@router.post("/replay")
async def bulk_replay(request: Request, session: Session, viewer: CurrentViewer) -> Response:
    form = await sessions.form_of(request)
    sessions.check_csrf(viewer.csrf_token, request, form)
    viewer.require(Scope.WEBHOOKS_REPLAY)
    chosen = _event_filter(
        viewer, form.get("provider"), form.get("status"), None, form.get("since"), None
    )
    ids = await _bulk_ids(session, viewer, chosen)
    if str(len(ids)) != form.get("count"):
        # The user confirmed another number: show the new one instead of guessing.
        return page(
            request, "replay_confirm.html", viewer, chosen=chosen, count=len(ids), changed=True
        )
    audit_as(request, "replay")
    result = await service.replay(session, ids, viewer.actor, company_id=viewer.company_id)
    await session.commit()
    return page(
        request,
        "replay_done.html",
        viewer,
        chosen=chosen,
        replayed=result.replayed,
        skipped=result.skipped,
    )


@router.get("/{webhook_event_id}")
async def show_event(
    request: Request, session: Session, viewer: CurrentViewer, webhook_event_id: EventId
) -> HTMLResponse:
    viewer.require(Scope.WEBHOOKS_READ)
    event = await service.get_event(session, webhook_event_id, company_id=viewer.company_id)
    if event is None:
        raise sessions.not_found()
    jobs: list[Any] = await repository.jobs_of_event(
        session, queueing_lock(event.id), event.correlation_id
    )
    return page(request, "webhook_event.html", viewer, event=event, jobs=jobs)


@router.post("/{webhook_event_id}/replay")
async def replay_event(
    request: Request, session: Session, viewer: CurrentViewer, webhook_event_id: EventId
) -> Response:
    sessions.check_csrf(viewer.csrf_token, request, await sessions.form_of(request))
    viewer.require(Scope.WEBHOOKS_REPLAY)
    audit_as(request, "replay")
    event = await service.get_event(session, webhook_event_id, company_id=viewer.company_id)
    if event is None:
        raise sessions.not_found()
    result = await service.replay(
        session, [webhook_event_id], viewer.actor, company_id=viewer.company_id
    )
    if not result.replayed:
        reason = "its body was pruned" if event.body_pruned_at else f"it is {event.status}"
        raise DashboardError(409, "Event cannot be replayed now", reason)
    await session.commit()
    return RedirectResponse(f"{PREFIX}/webhooks/{webhook_event_id}", status_code=303)
