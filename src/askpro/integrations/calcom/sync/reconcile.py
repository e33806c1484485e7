"""Periodic reconciliation: Cal.com may drop webhooks, so every few minutes list the bookings
changed since the last run (``afterUpdatedAt``, oldest first) and apply each one exactly like
a webhook would. Cal.com is read outside any transaction; each page is applied in one.

Reconciliation is background work: it takes at most its share of the account's rate budget
(see :mod:`askpro.integrations.calcom.ratelimit`), reads at most
``ASKPRO_CALCOM_RECONCILE_MAX_PAGES`` pages per run and stops when a page brings nothing it
has not seen in this run; either stop is logged (``calcom.reconcile_stopped``) and counted
(``askpro_calcom_reconcile_stopped_total``). The next run goes on from the cursor."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from askpro import worker
from askpro.config import Settings
from askpro.db import Database
from askpro.integrations.calcom import metrics
from askpro.integrations.calcom.client import CalcomClient
from askpro.integrations.calcom.dtos import Booking
from askpro.integrations.calcom.errors import CalcomError
from askpro.integrations.calcom.ratelimit import background_work
from askpro.integrations.calcom.service import client_for_key, company_api_key
from askpro.integrations.calcom.sync import repository
from askpro.integrations.calcom.sync.apply import apply_snapshot
from askpro.integrations.calcom.sync.snapshot import from_api
from askpro.models import Company
from askpro.observability import get_logger
from askpro.runtime import get_runtime

log = get_logger(__name__)
# Re-read a little before the cursor: bookings updated in the same second as the last one
# seen, or committed late by Cal.com, are not missed (re-applying is idempotent).
OVERLAP = dt.timedelta(minutes=5)
PAGE_SIZE = 100


@dataclass
class Account:
    client: CalcomClient
    company_ids: list[int] = field(default_factory=list)


async def accounts_to_reconcile(session: AsyncSession, settings: Settings) -> list[Account]:
    """Each Cal.com account with the companies that use it (own key, or the global key)."""
    accounts: dict[str, Account] = {}
    for company in await session.scalars(select(Company).where(Company.status == "active")):
        try:
            api_key = company_api_key(company, settings)
        except ValueError:
            log.error("calcom.reconcile_undecryptable_key", company_id=company.id)
            continue
        if api_key:
            client = client_for_key(api_key, settings)
            accounts.setdefault(client.account, Account(client)).company_ids.append(company.id)
    return list(accounts.values())


async def _company_for(
    session: AsyncSession, booking: Booking, company_ids: list[int]
) -> Company | None:
    if len(company_ids) == 1:
        return await session.get(Company, company_ids[0])
    candidates = await repository.company_ids_for_uid(session, booking.uid)
    event_type_id = booking.resolved_event_type_id
    if not candidates and event_type_id is not None:
        candidates = await repository.company_ids_for_event_type(session, event_type_id)
    candidates &= set(company_ids)
    return await session.get(Company, candidates.pop()) if len(candidates) == 1 else None


async def reconcile_account(
    database: Database, settings: Settings, account: Account, *, page_size: int = PAGE_SIZE
) -> int:
    """Apply the bookings of the account updated since its cursor; returns how many."""
    client = account.client
    async with database.sessions() as session:
        cursor = await repository.cursor(session, client.account)
    since = (
        cursor - OVERLAP
        if cursor is not None
        else dt.datetime.now(dt.UTC)
        - dt.timedelta(minutes=settings.calcom_reconcile_lookback_minutes)
    )
    applied, skip, pages = 0, 0, 0
    seen: set[tuple[str, dt.datetime | None]] = set()
    stopped: str | None = None
    while True:
        if pages >= settings.calcom_reconcile_max_pages:
            stopped = "page_cap"
            break
        with background_work():
            page = await client.list_bookings(
                after_updated_at=since, sort_updated_at="asc", take=page_size, skip=skip
            )
        pages += 1
        fresh = [b for b in page.bookings if (b.uid, b.updated_at) not in seen]
        seen.update((b.uid, b.updated_at) for b in page.bookings)
        if page.bookings and not fresh:
            stopped = "nothing_new"
            break

        async def apply_page(session: AsyncSession, bookings: list[Booking] = fresh) -> int:
            count = 0
            newest: dt.datetime | None = None
            for booking in bookings:
                snapshot = from_api(booking)
                newest = max(newest, snapshot.event_at) if newest else snapshot.event_at
                company = await _company_for(session, booking, account.company_ids)
                if company is None:
                    log.warning("calcom.reconcile_company_unresolved", uid=booking.uid)
                    continue
                await apply_snapshot(session, company, snapshot)
                count += 1
            if newest is not None:
                await repository.advance_cursor(session, client.account, newest)
            return count

        applied += await database.unit_of_work(apply_page, name="calcom.reconcile_page")
        if not page.pagination.has_next_page or not page.bookings:
            break
        skip += len(page.bookings)
    if stopped is not None:
        metrics.RECONCILE_STOPPED.labels(stopped).inc()
        log.warning(
            "calcom.reconcile_stopped",
            account=client.account,
            reason=stopped,
            pages=pages,
            applied=applied,
        )
    log.info(
        "calcom.reconciled",
        account=client.account,
        applied=applied,
        pages=pages,
        since=since.isoformat(),
    )
    return applied


async def reconcile_all(database: Database, settings: Settings) -> int:
    async with database.sessions() as session:
        accounts = await accounts_to_reconcile(session, settings)
    total = 0
    for account in accounts:
        try:
            total += await reconcile_account(database, settings, account)
        except CalcomError as error:
            # One account down must not stop the others; the next run starts from its cursor.
            log.warning("calcom.reconcile_failed", account=account.client.account, error=str(error))
    return total


@worker.task("askpro.calcom.reconcile", queue="default")
async def reconcile_calcom_bookings(timestamp: int | None = None) -> int:
    runtime = get_runtime()
    return await reconcile_all(runtime.database, runtime.settings)


worker.periodic(cron="*/10 * * * *", periodic_id="calcom_reconcile")(reconcile_calcom_bookings)
