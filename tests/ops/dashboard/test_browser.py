"""The dashboard in real headless Chromium: login, today, webhooks with replay, tenancy,
scopes, CSRF, escaping, logout."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass

from playwright.async_api import Route
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.auth.scopes import Scope
from askpro.db import Database
from askpro.kit.time import utc_now
from askpro.models import ApiToken, AuditLog, Call, CallerMessage, Company, WebhookEvent
from askpro.webhooks.registry import handles
from tests.fixtures.auth import create_token
from tests.fixtures.factories import (
    create_appointment,
    create_branch,
    create_company,
    create_service,
    create_staff,
)
from tests.fixtures.webhooks import (
    create_webhook_event,
    isolated_handlers,
    running_worker,
    stripe_event,
    wait_for,
    wait_for_status,
)
from tests.ops.dashboard.conftest import Tab

TEST_TYPE = "dashboard.test"


@dataclass
class World:
    company: Company
    other: Company
    token: str
    other_call_id: int


async def _call(session: AsyncSession, company: Company, call_id: str, **fields: object) -> Call:
    call = Call(call_id=call_id, company_id=company.id, **fields)
    session.add(call)
    await session.flush()
    return call


async def _world(session: AsyncSession, *, locale: str = "en") -> World:
    company = await create_company(session, name="Salon Alpha", locale=locale)
    other = await create_company(session, name="Salon Beta")
    branch = await create_branch(session, company)
    staff = await create_staff(session, company, name="Anna", branch=branch)
    service = await create_service(session, company, name="Cut", staff=[staff])
    now = utc_now()
    answered = await _call(
        session, company, "call_a1", started_at=now, duration_ms=90_000, from_number="+4930111"
    )
    unbooked = await _call(session, company, "call_a2", started_at=now, duration_ms=30_000)
    session.add(
        CallerMessage(
            company_id=company.id, call_id=unbooked.id, kind="message", body="Bitte zurückrufen"
        )
    )
    await create_appointment(
        session,
        company,
        staff,
        service,
        now + dt.timedelta(days=1),
        source="phone",
        call_id=answered.id,
    )
    other_call = await _call(session, other, "call_b1", started_at=now, duration_ms=60_000)
    issued = await create_token(session, company, name="front desk")
    await session.commit()
    return World(company, other, issued.plaintext, other_call.id)


async def test_login_today_filter_dead_event_replay_and_it_becomes_processed(
    tab: Tab, session: AsyncSession, database: Database
) -> None:
    world = await _world(session)
    body = stripe_event(event_id="evt_dead_dashboard", event_type=TEST_TYPE)
    dead = await create_webhook_event(
        session, world.company, status="dead", event_type=TEST_TYPE, body=body
    )
    await create_webhook_event(session, world.company, status="processed", event_type=TEST_TYPE)
    await session.commit()

    page = tab.page
    await page.goto(f"{tab.base_url}/")
    assert page.url.endswith("/dashboard/login")  # / → /dashboard → login
    await tab.login(world.token)
    assert await page.locator("#calls-answered").inner_text() == "2"
    assert await page.locator("#booked-by-phone").inner_text() == "1"
    assert await page.locator("#conversion").inner_text() == "50 %"
    assert await page.locator("#messages-taken").inner_text() == "1"
    assert await page.locator("#minutes-used").inner_text() == "2.0"
    assert await page.locator("#dead-webhooks").inner_text() == "1"

    # Filter with the form (htmx swaps the results in place and pushes the URL).
    await page.click("nav >> text=Webhook events")
    assert await page.locator("tbody tr").count() == 2
    await page.select_option("#f-status", "dead")
    await page.select_option("#f-provider", "stripe")
    await page.click("form.filters button[type=submit]")
    await page.wait_for_url(re.compile(r"status=dead"))
    await page.locator("tbody tr").first.wait_for()
    rows = page.locator("#results tbody tr")
    assert await rows.count() == 1
    assert "dead" in await rows.first.inner_text()

    await page.click(f"#results a[href$='/webhooks/{dead.id}']")
    assert "dead" in await page.locator("#event-status").inner_text()
    with isolated_handlers():

        @handles("stripe", TEST_TYPE)
        async def fixed_handler(session: AsyncSession, event: WebhookEvent) -> None:
            return None

        async with running_worker():
            await page.click("#replay")
            await page.wait_for_load_state()
            await wait_for_status(database, dead.id, {"processed"})
    await page.reload()
    assert "processed" in await page.locator("#event-status").inner_text()
    assert "askpro.webhooks.process" in await page.locator("#jobs").inner_text()
    assert "(dashboard)" in await page.locator(".details").inner_text()

    async def audited() -> bool:
        async with database.sessions() as check:
            rows = (await check.scalars(select(AuditLog).where(AuditLog.kind == "replay"))).all()
        return any(row.resource_id == str(dead.id) and row.status == 303 for row in rows)

    await wait_for(audited, within=10)


async def test_bulk_replay_names_the_count_before_replaying(
    tab: Tab, session: AsyncSession, database: Database
) -> None:
    world = await _world(session)
    dead = [await create_webhook_event(session, world.company, status="dead") for _ in range(3)]
    await create_webhook_event(session, world.other, status="dead")  # not this company's
    await session.commit()
    await tab.login(world.token)
    await tab.page.goto(f"{tab.base_url}/dashboard/webhooks?status=dead")
    await tab.page.click("#bulk-replay")
    assert "3" in await tab.page.locator("#replay-count").inner_text()
    await tab.page.click("#confirm-replay")
    assert "3" in await tab.page.locator("#replay-result").inner_text()
    async with database.sessions() as check:
        statuses = {
            event.id: event.status
            for event in await check.scalars(select(WebhookEvent).order_by(WebhookEvent.id))
        }
    assert [statuses[event.id] for event in dead] == ["received"] * 3
    assert list(statuses.values()).count("dead") == 1


async def test_a_company_token_cannot_open_another_companys_rows(
    tab: Tab, session: AsyncSession
) -> None:
    world = await _world(session)
    foreign_event = await create_webhook_event(session, world.other, status="dead")
    await session.commit()
    await tab.login(world.token)
    for path in (
        f"/dashboard/calls/{world.other_call_id}",
        f"/dashboard/webhooks/{foreign_event.id}",
        f"/dashboard/customers/{world.other_call_id}",
    ):
        response = await tab.page.goto(f"{tab.base_url}{path}")
        assert response is not None
        assert response.status == 404, path
    own = await tab.page.goto(f"{tab.base_url}/dashboard/calls")
    assert own is not None
    assert own.status == 200
    assert "call_b1" not in await tab.page.content()


async def test_without_webhooks_replay_there_is_no_button_and_a_post_is_403(
    tab: Tab, session: AsyncSession, database: Database
) -> None:
    world = await _world(session)
    reader = await create_token(session, world.company, scopes=[Scope.WEBHOOKS_READ])
    event = await create_webhook_event(session, world.company, status="dead")
    await session.commit()
    await tab.login(reader.plaintext)
    await tab.page.goto(f"{tab.base_url}/dashboard/webhooks/{event.id}")
    assert "dead" in await tab.page.locator("#event-status").inner_text()
    assert await tab.page.locator("#replay").count() == 0
    await tab.page.goto(f"{tab.base_url}/dashboard/webhooks?status=dead")
    assert await tab.page.locator("#bulk-replay").count() == 0
    csrf = await tab.csrf_token()
    response = await tab.page.request.post(
        f"{tab.base_url}/dashboard/webhooks/{event.id}/replay", form={"csrf_token": csrf}
    )
    assert response.status == 403
    async with database.sessions() as check:
        assert (await check.get(WebhookEvent, event.id)).status == "dead"  # type: ignore[union-attr]


async def test_a_post_without_the_csrf_token_is_403(
    tab: Tab, session: AsyncSession, database: Database
) -> None:
    world = await _world(session)
    event = await create_webhook_event(session, world.company, status="dead")
    await session.commit()
    await tab.login(world.token)
    url = f"{tab.base_url}/dashboard/webhooks/{event.id}/replay"
    missing = await tab.page.request.post(url, form={})
    wrong = await tab.page.request.post(url, form={"csrf_token": "guessed"})
    assert (missing.status, wrong.status) == (403, 403)
    async with database.sessions() as check:
        assert (await check.get(WebhookEvent, event.id)).status == "dead"  # type: ignore[union-attr]


async def test_a_payload_with_script_and_img_onerror_is_shown_as_text(
    tab: Tab, session: AsyncSession
) -> None:
    world = await _world(session)
    hostile = {
        "id": "evt_hostile",
        "type": "customer.updated",
        "note": "<script>window.__pwned = 1</script>",
        "name": '"><img src=x onerror="window.__pwned = 2">',
    }
    event = await create_webhook_event(
        session,
        world.company,
        status="failed",
        event_type='"><img src=x onerror="window.__pwned = 3">',
        body=json.dumps(hostile).encode(),
    )
    await session.commit()
    dialogs: list[str] = []
    tab.page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await tab.login(world.token)
    await tab.page.goto(f"{tab.base_url}/dashboard/webhooks/{event.id}")
    payload = await tab.page.locator("#payload").inner_text()
    assert "<script>window.__pwned = 1</script>" in payload
    assert '"><img src=x onerror=' in payload.replace('\\"', '"')
    assert await tab.page.locator("img").count() == 0
    assert await tab.page.locator("main script").count() == 0
    assert await tab.page.evaluate("typeof window.__pwned") == "undefined"
    await tab.page.goto(f"{tab.base_url}/dashboard/webhooks")
    assert await tab.page.locator("img").count() == 0
    assert await tab.page.evaluate("typeof window.__pwned") == "undefined"
    assert dialogs == []


async def test_logout_ends_the_session_and_german_labels_follow_the_locale(
    tab: Tab, session: AsyncSession
) -> None:
    world = await _world(session, locale="de")
    await tab.login(world.token)
    assert "Angenommene Anrufe" in await tab.page.locator("main").inner_text()
    assert await tab.page.locator("html").get_attribute("lang") == "de"
    cookies = await tab.context.cookies()
    session_cookie = next(c for c in cookies if c["name"] == "askpro_session")
    assert session_cookie["httpOnly"]
    assert session_cookie["sameSite"] == "Lax"
    await tab.page.click("text=Abmelden")
    await tab.page.wait_for_url(re.compile(r"/dashboard/login$"))
    await tab.page.goto(f"{tab.base_url}/dashboard/calls")
    assert tab.page.url.endswith("/dashboard/login")
    # The old cookie, presented again, opens nothing: the session is gone on the server.
    await tab.context.add_cookies([{**session_cookie}])  # type: ignore[list-item]
    await tab.page.goto(f"{tab.base_url}/dashboard")
    assert tab.page.url.endswith("/dashboard/login")


async def test_a_revoked_token_ends_its_sessions(tab: Tab, session: AsyncSession) -> None:
    world = await _world(session)
    await tab.login(world.token)
    assert tab.page.url.endswith("/dashboard")
    row = (await session.scalars(select(ApiToken).where(ApiToken.name == "front desk"))).one()
    row.revoked_at = utc_now()
    await session.commit()
    await tab.page.reload()
    assert tab.page.url.endswith("/dashboard/login")


async def test_docs_render_with_the_network_unplugged(tab: Tab) -> None:
    """Every request that does not go to askpro itself is cut; Swagger UI still renders."""
    outside: list[str] = []

    async def unplug(route: Route) -> None:
        if route.request.url.startswith(tab.base_url):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    await tab.page.route("**/*", unplug)
    await tab.page.goto(f"{tab.base_url}/docs")
    await tab.page.locator(".swagger-ui .info .title").wait_for()
    assert "askpro" in await tab.page.locator(".swagger-ui .info .title").inner_text()
    await tab.page.locator(".opblock").first.wait_for()
    assert outside == []
