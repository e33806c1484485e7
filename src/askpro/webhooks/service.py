"""Inbox use cases for operators, the REST API and the dashboard: list, show, replay.

Like every service it never commits: the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.kit.pagination import PageRequest
from askpro.models.webhooks import WEBHOOK_STATUSES
from askpro.webhooks import repository
from askpro.webhooks.ingest import queueing_lock
from askpro.webhooks.schemas import WebhookEventDetail, WebhookEventOut
from askpro.webhooks.tasks import enqueue_processing

REPLAYABLE_STATUSES = ("failed", "dead", "processed", "ignored")


@dataclass
class ReplayResult:
    replayed: list[int] = field(default_factory=list)
    # Not replayed: unknown id, still in flight (received/processing) or body pruned.
    skipped: list[int] = field(default_factory=list)


async def list_events(
    session: AsyncSession,
    *,
    provider: str | None = None,
    status: str | None = None,
    since: dt.datetime | None = None,
    company_id: int | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> list[WebhookEventOut]:
    if status is not None and status not in WEBHOOK_STATUSES:
        raise ValueError(f"unknown status {status!r}; one of {', '.join(WEBHOOK_STATUSES)}")
    rows = await repository.list_events(
        session,
        provider=provider,
        status=status,
        since=since,
        company_id=company_id,
        limit=limit,
        before_id=before_id,
    )
    return [WebhookEventOut.model_validate(row) for row in rows]


async def page_events(
    session: AsyncSession,
    company_id: int | None,
    page: PageRequest,
    *,
    providers: Sequence[str] = (),
    statuses: Sequence[str] = (),
    event_types: Sequence[str] = (),
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> tuple[list[WebhookEventOut], str | None]:
    """A cursor page of the events ``company_id`` may see (``None``: all), newest first."""
    rows, cursor = await repository.page_events(
        session,
        company_id,
        page,
        providers=providers,
        statuses=statuses,
        event_types=event_types,
        since=since,
        until=until,
    )
    return [WebhookEventOut.model_validate(row) for row in rows], cursor


async def get_event(
    session: AsyncSession, event_id: int, *, company_id: int | None = None
) -> WebhookEventDetail | None:
    """One event (signature headers hidden); ``None`` if unknown or another company's."""
    row = await repository.get(session, event_id, company_id=company_id)
    return WebhookEventDetail.from_row(row) if row is not None else None


async def replay(
    session: AsyncSession,
    event_ids: Sequence[int],
    actor: str,
    *,
    company_id: int | None = None,
) -> ReplayResult:
    """Reset the events to ``received`` and enqueue them again, without re-verifying.

    Records who replayed and when. An event whose retry is already waiting in the queue is
    pulled forward to run now instead of being queued twice. With ``company_id`` only that
    company's events are touched; the others count as skipped (unknown).
    """
    wanted = sorted(set(event_ids))
    reset = await repository.reset_for_replay(session, wanted, actor, company_id=company_id)
    result = ReplayResult()
    for event_id, entity_key, correlation_id in reset:
        if not await enqueue_processing(session, event_id, entity_key, correlation_id):
            await session.execute(
                text(
                    "UPDATE procrastinate_jobs SET scheduled_at = now() "
                    "WHERE queueing_lock = :lock AND status = 'todo'"
                ),
                {"lock": queueing_lock(event_id)},
            )
        result.replayed.append(event_id)
    done = set(result.replayed)
    result.skipped = [event_id for event_id in wanted if event_id not in done]
    return result


async def replay_status(
    session: AsyncSession,
    status: str,
    actor: str,
    *,
    since: dt.datetime | None = None,
    limit: int = 1000,
    company_id: int | None = None,
    provider: str | None = None,
) -> ReplayResult:
    """Replay up to ``limit`` events in ``status`` (``failed`` or ``dead``), oldest first."""
    ids = await replayable_ids(
        session, status, since=since, limit=limit, company_id=company_id, provider=provider
    )
    return await replay(session, ids, actor, company_id=company_id)


async def replayable_ids(
    session: AsyncSession,
    status: str,
    *,
    since: dt.datetime | None = None,
    limit: int = 1000,
    company_id: int | None = None,
    provider: str | None = None,
) -> list[int]:
    """The events :func:`replay_status` would replay now (the dashboard confirms the count)."""
    if status not in REPLAYABLE_STATUSES:
        raise ValueError(f"only {', '.join(REPLAYABLE_STATUSES)} events can be replayed")
    return await repository.ids_with_status(
        session, status, since, limit, company_id=company_id, provider=provider
    )
