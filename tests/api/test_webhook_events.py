"""/api/v1/webhook-events: tenant scoping, filters and pages, show, replay (audited) and
bulk replay, and a replayed event really being processed by a worker."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.db import Database
from askpro.models import AuditLog, Company, WebhookEvent
from askpro.webhooks.registry import handles
from tests.fixtures.auth import IssuedTestToken, create_token
from tests.fixtures.factories import create_company
from tests.fixtures.webhooks import (
    create_webhook_event,
    isolated_handlers,
    running_worker,
    wait_for_status,
)

URL = "/api/v1/webhook-events"
T0 = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def _ids(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def _event(session: AsyncSession, event_id: int) -> WebhookEvent:
    row = (
        await session.execute(
            select(WebhookEvent)
            .where(WebhookEvent.id == event_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    return row


async def _audit_rows(session: AsyncSession, **where: Any) -> list[AuditLog]:
    statement = select(AuditLog).filter_by(**where).order_by(AuditLog.id)
    return list((await session.scalars(statement)).all())


async def _two_companies(
    session: AsyncSession,
) -> tuple[Company, Company, IssuedTestToken, IssuedTestToken, IssuedTestToken]:
    company_a = await create_company(session, name="A")
    company_b = await create_company(session, name="B")
    token_a = await create_token(session, company_a, name="ops console")
    token_b = await create_token(session, company_b)
    platform = await create_token(session, None)
    return company_a, company_b, token_a, token_b, platform


async def test_each_company_lists_only_its_events_and_unrouted_ones_only_platform_wide(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company_a, company_b, token_a, token_b, platform = await _two_companies(session)
    of_a = [await create_webhook_event(session, company_a) for _ in range(3)]
    of_b = await create_webhook_event(session, company_b)
    unrouted = await create_webhook_event(session, None)
    await session.commit()

    assert _ids(await api.get(URL, headers=token_a.headers)) == [e.id for e in reversed(of_a)]
    assert _ids(await api.get(URL, headers=token_b.headers)) == [of_b.id]
    named = await api.get(URL, headers={**platform.headers, "X-Company-ID": str(company_b.id)})
    assert _ids(named) == [of_b.id]
    everything = _ids(await api.get(URL, headers=platform.headers))
    assert set(everything) == {e.id for e in of_a} | {of_b.id, unrouted.id}

    for token in (token_a, token_b):
        shown = await api.get(f"{URL}/{unrouted.id}", headers=token.headers)
        assert shown.status_code == 404, shown.text
        replay = await api.post(f"{URL}/{unrouted.id}/replay", headers=token.headers)
        assert replay.status_code == 404, replay.text
    assert (await api.get(f"{URL}/{of_b.id}", headers=token_a.headers)).status_code == 404
    assert (await api.get(f"{URL}/{unrouted.id}", headers=platform.headers)).status_code == 200
    assert (await _event(session, unrouted.id)).status == "failed"


async def test_filters_and_cursor_pages_are_stable_newest_first(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company = await create_company(session)
    token = await create_token(session, company)
    created = []
    for index in range(7):
        provider = "stripe" if index % 2 == 0 else "calcom"
        status = "dead" if index < 3 else "processed"
        created.append(
            await create_webhook_event(
                session,
                company,
                provider=provider,
                status=status,
                event_type="invoice.paid" if provider == "stripe" else "BOOKING_CREATED",
                # Two events share a received_at: the id breaks the tie.
                received_at=T0 + dt.timedelta(hours=min(index, 5)),
            )
        )
    await session.commit()
    newest_first = [e.id for e in sorted(created, key=lambda e: (e.received_at, e.id))][::-1]
    everything = {e.id for e in created}

    def query(**params: Any) -> Any:
        return api.get(URL, params=params, headers=token.headers)

    stripe = {e.id for e in created if e.provider == "stripe"}
    assert set(_ids(await query(provider="stripe"))) == stripe
    assert set(_ids(await query(provider="calcom"))) == everything - stripe
    assert set(_ids(await query(status="dead"))) == {e.id for e in created[:3]}
    both = await api.get(f"{URL}?status=dead&status=processed", headers=token.headers)
    assert set(_ids(both)) == everything
    assert set(_ids(await query(event_type="BOOKING_CREATED"))) == everything - stripe
    window = await query(
        since=(T0 + dt.timedelta(hours=1)).isoformat(),
        until=(T0 + dt.timedelta(hours=3)).isoformat(),
    )
    assert _ids(window) == [created[2].id, created[1].id]

    seen: list[int] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await api.get(URL, params=params, headers=token.headers)
        seen += _ids(page)
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
        # A new event arriving between pages does not shift the pages being read.
        await create_webhook_event(session, company, received_at=T0 + dt.timedelta(days=1))
        await session.commit()
    assert seen == newest_first


async def test_show_hides_signatures_and_returns_the_body_only_while_retained(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company = await create_company(session)
    token = await create_token(session, company)
    event = await create_webhook_event(session, company)
    await session.commit()

    shown = await api.get(f"{URL}/{event.id}", headers=token.headers)
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert body["payload"]["type"] == "invoice.paid"
    assert body["headers"] == {"content-type": "application/json"}
    assert "secret-looking" not in shown.text

    await session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.id == event.id)
        .values(body=None, body_pruned_at=dt.datetime.now(dt.UTC))
    )
    await session.commit()
    pruned = (await api.get(f"{URL}/{event.id}", headers=token.headers)).json()
    assert pruned["payload"] is None
    assert pruned["body_pruned_at"] is not None
    refused = await api.post(f"{URL}/{event.id}/replay", headers=token.headers)
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("/not-replayable")


async def test_a_replay_leaves_exactly_one_audit_row_with_the_correlation_id(
    app: FastAPI, api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company = await create_company(session)
    token = await create_token(session, company, name="ops console")
    event = await create_webhook_event(session, company, status="dead")
    await session.commit()
    request_id = uuid.uuid4().hex

    response = await api.post(
        f"{URL}/{event.id}/replay", headers={**token.headers, "X-Request-ID": request_id}
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "received"
    await app.state.audit_writer.flush()
    rows = await _audit_rows(session, correlation_id=request_id)
    assert [(r.kind, r.method, r.resource_id, r.status) for r in rows] == [
        ("replay", "POST", str(event.id), 200)
    ]
    assert (rows[0].token_id, rows[0].company_id) == (token.row.id, company.id)
    assert rows[0].route == "/api/v1/webhook-events/{webhook_event_id}/replay"
    replayed = await _event(session, event.id)
    assert replayed.replayed_by == f"api-token:{token.row.id}:ops console"
    assert replayed.replayed_at is not None
    assert (replayed.status, replayed.attempts, replayed.last_error) == ("received", 0, None)

    # Still in flight now: a second replay is refused (and audited once more, as a replay).
    again_id = uuid.uuid4().hex
    again = await api.post(
        f"{URL}/{event.id}/replay", headers={**token.headers, "X-Request-ID": again_id}
    )
    assert again.status_code == 409, again.text
    await app.state.audit_writer.flush()
    assert [r.kind for r in await _audit_rows(session, correlation_id=again_id)] == ["replay"]


async def test_bulk_replay_is_bounded_and_touches_only_the_callers_company(
    app: FastAPI, api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company_a, company_b, token_a, token_b, platform = await _two_companies(session)
    dead_a = [
        await create_webhook_event(
            session, company_a, status="dead", received_at=T0 + dt.timedelta(hours=i)
        )
        for i in range(3)
    ]
    calcom_dead_a = await create_webhook_event(
        session, company_a, status="dead", provider="calcom", received_at=T0 + dt.timedelta(hours=9)
    )
    failed_a = await create_webhook_event(session, company_a, status="failed")
    dead_b = await create_webhook_event(session, company_b, status="dead")
    dead_unrouted = await create_webhook_event(session, None, status="dead")
    await session.commit()
    request_id = uuid.uuid4().hex

    first = await api.post(
        f"{URL}/replay",
        json={"status": "dead", "provider": "stripe", "limit": 2},
        headers={**token_a.headers, "X-Request-ID": request_id},
    )
    assert first.status_code == 200, first.text
    assert first.json() == {
        "count": 2,
        "replayed": [dead_a[0].id, dead_a[1].id],
        "skipped": [],
        "limited": True,
    }
    rest = await api.post(
        f"{URL}/replay",
        json={"status": "dead", "since": (T0 + dt.timedelta(hours=2)).isoformat()},
        headers=token_a.headers,
    )
    assert rest.json()["replayed"] == [dead_a[2].id, calcom_dead_a.id]
    assert rest.json()["limited"] is False
    await app.state.audit_writer.flush()
    assert [r.kind for r in await _audit_rows(session, correlation_id=request_id)] == ["replay"]

    for untouched, status in ((failed_a, "failed"), (dead_b, "dead"), (dead_unrouted, "dead")):
        assert (await _event(session, untouched.id)).status == status
    by_b = await api.post(f"{URL}/replay", json={"status": "failed"}, headers=token_b.headers)
    assert by_b.json()["replayed"] == []
    assert (await _event(session, failed_a.id)).status == "failed"
    platform_wide = await api.post(
        f"{URL}/replay", json={"status": "dead"}, headers=platform.headers
    )
    assert platform_wide.json()["replayed"] == sorted([dead_b.id, dead_unrouted.id])


async def test_a_replayed_dead_event_is_processed_by_the_worker(
    api: httpx.AsyncClient, session: AsyncSession, database: Database
) -> None:
    company = await create_company(session)
    token = await create_token(session, company)
    # A type no real handler takes, so only the handler registered here runs.
    kind = "askpro.test.replayed"
    event = await create_webhook_event(session, company, status="dead", event_type=kind)
    await session.commit()
    handled: list[int] = []
    with isolated_handlers():

        @handles("stripe", kind)
        async def record(session: AsyncSession, row: WebhookEvent) -> None:
            handled.append(row.id)

        async with running_worker():
            response = await api.post(f"{URL}/{event.id}/replay", headers=token.headers)
            assert response.status_code == 200, response.text
            done = await wait_for_status(database, event.id, {"processed", "failed", "dead"})
    assert (done.status, done.attempts, handled) == ("processed", 1, [event.id])
    jobs = await session.execute(
        text("SELECT count(*) FROM procrastinate_jobs WHERE args->>'event_id' = :id"),
        {"id": str(event.id)},
    )
    assert jobs.scalar_one() == 1


async def test_concurrent_replays_of_one_event_reset_and_enqueue_it_once(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company = await create_company(session)
    token = await create_token(session, company)
    event = await create_webhook_event(session, company, status="dead")
    await session.commit()

    # Each request has its own session and connection: the replays really race.
    responses = await asyncio.gather(
        *(api.post(f"{URL}/{event.id}/replay", headers=token.headers) for _ in range(10))
    )
    assert sorted(r.status_code for r in responses) == [200] + [409] * 9
    jobs = await session.execute(
        text(
            "SELECT count(*) FROM procrastinate_jobs "
            "WHERE args->>'event_id' = :id AND status = 'todo'"
        ),
        {"id": str(event.id)},
    )
    assert jobs.scalar_one() == 1
