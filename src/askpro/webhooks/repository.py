"""Every query on the webhook inbox (``webhook_events``).

Reads and replays take ``company_id``: a company's queries see only rows of that company
(rows with no company stay invisible to it); ``None`` means platform-wide (operators' CLI,
platform tokens naming no company).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.db import DriverConnection
from askpro.kit import jsonfast
from askpro.kit.pagination import PageRequest, SortKey, paginate
from askpro.models import Company, PhoneNumber, WebhookEvent
from askpro.webhooks.providers import ParsedEvent, Routing
from askpro.webhooks.signatures import RawBody

# Statuses from which a processing job may (re)start an attempt.
PROCESSABLE = ("received", "processing", "failed")


# The acknowledgement path in ONE statement and one round trip: the inbox row and, only when
# the row is new, its processing job (procrastinate's own versioned defer function, with the
# same job shape ``worker.enqueue`` produces). Run on the pool's psycopg connection itself
# (see ``Database.driver_connection``): a static text psycopg prepares once per connection.
# The event's company, resolved inside the INSERT itself (no extra round trip): the company
# whose own secret verified it, else the hinted company if it exists, else the owner of one
# of its phone numbers.
_COMPANY = """COALESCE(
      CAST(%(verified_company_id)s AS bigint),
      (SELECT id FROM companies WHERE id = CAST(%(company_hint)s AS bigint)),
      (SELECT company_id FROM phone_numbers
        WHERE number = ANY(CAST(%(phone_numbers)s AS varchar[])) ORDER BY id LIMIT 1)
    )"""
INSERT_AND_ENQUEUE = f"""
WITH inserted AS (
  INSERT INTO webhook_events (provider, event_type, dedup_key, entity_key, company_id, status,
                              correlation_id, headers, body, occurred_at)
  VALUES (
    %(provider)s, %(event_type)s, %(dedup_key)s, %(entity_key)s, {_COMPANY},
    'received', %(correlation_id)s, CAST(%(headers)s AS jsonb), %(body)s, %(occurred_at)s)
  ON CONFLICT (provider, dedup_key) DO NOTHING
  RETURNING id
)
SELECT id, (procrastinate_defer_jobs_v1(ARRAY[ROW(
    %(queue)s, %(task_name)s, 0, CAST(%(lock)s AS text), %(queueing_lock_prefix)s || id,
    jsonb_strip_nulls(jsonb_build_object(
      'event_id', id, 'correlation_id', CAST(%(correlation_id)s AS text))),
    NULL)::procrastinate_job_to_defer_v1]))[1] AS job_id
FROM inserted
"""  # noqa: S608 - built from constants only
# An event answered synchronously (Retell's inbound call): stored as handled, no job.
INSERT_ANSWERED = f"""
INSERT INTO webhook_events (provider, event_type, dedup_key, entity_key, company_id, status,
                            last_error, correlation_id, headers, body, occurred_at,
                            processed_at, attempts)
VALUES (
  %(provider)s, %(event_type)s, %(dedup_key)s, %(entity_key)s, {_COMPANY},
  %(status)s, %(last_error)s, %(correlation_id)s, CAST(%(headers)s AS jsonb), %(body)s,
  %(occurred_at)s, now(), 1)
ON CONFLICT (provider, dedup_key) DO NOTHING
RETURNING id
"""  # noqa: S608 - built from constants only
FIND_ID = "SELECT id FROM webhook_events WHERE provider = %(provider)s AND dedup_key = %(key)s"


@dataclass(frozen=True)
class Delivery:
    """One verified request as the inbox stores it."""

    provider: str
    parsed: ParsedEvent
    body: RawBody
    headers: dict[str, str]  # the ones kept as evidence
    correlation_id: str | None
    verified_company_id: int | None  # the company whose own secret verified it

    def values(self) -> dict[str, Any]:
        """The parameters every inbox INSERT shares."""
        return {
            "provider": self.provider,
            "event_type": self.parsed.event_type,
            "dedup_key": self.parsed.dedup_key,
            "entity_key": self.parsed.entity_key,
            "verified_company_id": self.verified_company_id,
            "company_hint": self.parsed.routing.company_id,
            "phone_numbers": list(self.parsed.routing.phone_numbers),
            "correlation_id": self.correlation_id,
            "headers": jsonfast.dumps(self.headers).decode(),
            "body": self.body,
            "occurred_at": self.parsed.occurred_at,
        }


async def insert_and_enqueue(
    connection: DriverConnection,
    delivery: Delivery,
    *,
    task_name: str,
    queueing_lock_prefix: str,
    queue: str = "default",
) -> int | None:
    """Store a new event and defer its job atomically; None for a duplicate (no job).

    ``connection`` is in autocommit: the one statement is its own transaction.
    """
    cursor = await connection.execute(
        INSERT_AND_ENQUEUE,
        delivery.values()
        | {
            "queue": queue,
            "task_name": task_name,
            "lock": delivery.parsed.entity_key,
            "queueing_lock_prefix": queueing_lock_prefix,
        },
    )
    row = await cursor.fetchone()
    return None if row is None else int(row[0])


async def insert_answered(
    connection: DriverConnection,
    delivery: Delivery,
    *,
    status: str,
    last_error: str | None = None,
) -> int | None:
    """Store an event the request itself handled (``processed`` or ``failed``); None for a
    duplicate. ``connection`` is in autocommit: one statement, one round trip."""
    cursor = await connection.execute(
        INSERT_ANSWERED, delivery.values() | {"status": status, "last_error": last_error}
    )
    row = await cursor.fetchone()
    return None if row is None else int(row[0])


async def find_id(connection: DriverConnection, provider: str, dedup_key: str) -> int | None:
    cursor = await connection.execute(FIND_ID, {"provider": provider, "key": dedup_key})
    row = await cursor.fetchone()
    return None if row is None else int(row[0])


async def company_secret_candidates(
    session: AsyncSession, routing: Routing, column: str
) -> list[tuple[int, str]]:
    """``(company id, encrypted secret)`` of the companies an event is routed to."""
    secret_column = getattr(Company, column)
    conditions: list[ColumnElement[bool]] = []
    if routing.company_id is not None:
        conditions.append(Company.id == routing.company_id)
    if routing.phone_numbers:
        conditions.append(
            Company.id.in_(
                select(PhoneNumber.company_id).where(PhoneNumber.number.in_(routing.phone_numbers))
            )
        )
    if not conditions:
        return []
    rows = await session.execute(
        select(Company.id, secret_column).where(or_(*conditions), secret_column.is_not(None))
    )
    return [(row[0], row[1]) for row in rows]


async def lock_entity(session: AsyncSession, entity_key: str) -> None:
    """Hold the entity until the transaction ends (events of an entity run one at a time,
    also when one of them has stepped aside from the queue's per-entity lock to retry)."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": entity_key}
    )


async def start_attempt(session: AsyncSession, event_id: int) -> WebhookEvent | None:
    """Mark the event ``processing`` and count the attempt; None when nothing is left to do."""
    result = await session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.id == event_id, WebhookEvent.status.in_(PROCESSABLE))
        .values(status="processing", attempts=WebhookEvent.attempts + 1)
        .returning(WebhookEvent)
    )
    event: WebhookEvent | None = result.scalar_one_or_none()
    return event


async def finish(
    session: AsyncSession, event_id: int, status: str, last_error: str | None = None
) -> None:
    await session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.id == event_id)
        .values(status=status, last_error=last_error, processed_at=func.now())
    )


def _of_company(company_id: int | None) -> list[ColumnElement[bool]]:
    return [] if company_id is None else [WebhookEvent.company_id == company_id]


async def get(
    session: AsyncSession, event_id: int, *, company_id: int | None = None
) -> WebhookEvent | None:
    statement = select(WebhookEvent).where(WebhookEvent.id == event_id, *_of_company(company_id))
    event: WebhookEvent | None = (await session.execute(statement)).scalar_one_or_none()
    return event


# Newest first; the id makes the order total (and the cursor stable while rows arrive).
EVENT_SORT = (SortKey(WebhookEvent.received_at), SortKey(WebhookEvent.id))


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
) -> tuple[list[WebhookEvent], str | None]:
    """One page of events newest first (``since`` inclusive, ``until`` exclusive)."""
    filters = _of_company(company_id)
    if providers:
        filters.append(WebhookEvent.provider.in_(providers))
    if statuses:
        filters.append(WebhookEvent.status.in_(statuses))
    if event_types:
        filters.append(WebhookEvent.event_type.in_(event_types))
    if since is not None:
        filters.append(WebhookEvent.received_at >= since)
    if until is not None:
        filters.append(WebhookEvent.received_at < until)
    statement = select(WebhookEvent).where(*filters)
    return await paginate(session, statement, EVENT_SORT, page, descending=True)


async def list_events(
    session: AsyncSession,
    *,
    provider: str | None = None,
    status: str | None = None,
    since: dt.datetime | None = None,
    company_id: int | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> Sequence[WebhookEvent]:
    """Newest first; ``before_id`` pages backwards."""
    query = select(WebhookEvent).order_by(WebhookEvent.id.desc()).limit(limit)
    filters: list[ColumnElement[bool]] = []
    if provider:
        filters.append(WebhookEvent.provider == provider)
    if status:
        filters.append(WebhookEvent.status == status)
    if since:
        filters.append(WebhookEvent.received_at >= since)
    if company_id is not None:
        filters.append(WebhookEvent.company_id == company_id)
    if before_id is not None:
        filters.append(WebhookEvent.id < before_id)
    if filters:
        query = query.where(and_(*filters))
    return (await session.execute(query)).scalars().all()


async def ids_with_status(
    session: AsyncSession,
    status: str,
    since: dt.datetime | None,
    limit: int,
    *,
    company_id: int | None = None,
    provider: str | None = None,
) -> list[int]:
    query = select(WebhookEvent.id).where(WebhookEvent.status == status, *_of_company(company_id))
    if since is not None:
        query = query.where(WebhookEvent.received_at >= since)
    if provider is not None:
        query = query.where(WebhookEvent.provider == provider)
    return list((await session.execute(query.order_by(WebhookEvent.id).limit(limit))).scalars())


async def reset_for_replay(
    session: AsyncSession,
    event_ids: Sequence[int],
    actor: str,
    *,
    company_id: int | None = None,
) -> list[Any]:
    """Back to ``received`` with a fresh attempt budget; returns (id, entity_key, corr. id)."""
    result = await session.execute(
        update(WebhookEvent)
        .where(
            WebhookEvent.id.in_(event_ids),
            WebhookEvent.status.not_in(("received", "processing")),
            WebhookEvent.body.is_not(None),
            *_of_company(company_id),
        )
        .values(
            status="received",
            attempts=0,
            last_error=None,
            processed_at=None,
            replayed_at=func.now(),
            replayed_by=actor[:200],
        )
        .returning(WebhookEvent.id, WebhookEvent.entity_key, WebhookEvent.correlation_id)
    )
    return list(result.all())


async def stuck_in_received(
    session: AsyncSession, older_than_seconds: int, limit: int
) -> list[Any]:
    result = await session.execute(
        select(WebhookEvent.id, WebhookEvent.entity_key, WebhookEvent.correlation_id)
        .where(
            WebhookEvent.status == "received",
            WebhookEvent.received_at
            < func.now() - func.make_interval(0, 0, 0, 0, 0, 0, literal(older_than_seconds)),
        )
        .order_by(WebhookEvent.id)
        .limit(limit)
    )
    return list(result.all())


async def prune_bodies(session: AsyncSession, older_than_days: int, limit: int) -> int:
    """Drop raw bodies (keeping the row) of settled events older than the retention."""
    candidates = (
        select(WebhookEvent.id)
        .where(
            WebhookEvent.body.is_not(None),
            WebhookEvent.status.in_(("processed", "ignored", "dead")),
            WebhookEvent.received_at
            < func.now() - func.make_interval(0, 0, 0, literal(older_than_days)),
        )
        .limit(limit)
        .scalar_subquery()
    )
    result = await session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.id.in_(candidates))
        .values(body=None, body_pruned_at=func.now())
        .returning(WebhookEvent.id)
    )
    return len(result.all())


async def count_by_status(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(WebhookEvent.status, func.count()).group_by(WebhookEvent.status)
    )
    return {row[0]: row[1] for row in rows}
