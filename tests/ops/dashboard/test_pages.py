"""Dashboard pages over HTTP (no browser needed): platform tokens, scopes per number, the
bulk replay's changed count, search, the ack latency p95, offline /docs, the endpoints
that are not delivering."""

from __future__ import annotations

import datetime as dt
import re

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.auth.scopes import Scope
from askpro.models import AppointmentEvent, Call, Company, WebhookEndpoint, WebhookEvent
from askpro.ops.dashboard.charts import histogram_quantile
from tests.fixtures.auth import create_token
from tests.fixtures.factories import (
    create_appointment,
    create_branch,
    create_company,
    create_customer,
    create_service,
    create_staff,
)
from tests.fixtures.outbound import create_delivery, create_endpoint
from tests.fixtures.webhooks import create_webhook_event


async def login(api: httpx.AsyncClient, token: str) -> httpx.Response:
    form = await api.get("/dashboard/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert csrf is not None
    return await api.post("/dashboard/login", data={"csrf_token": csrf.group(1), "token": token})


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


async def test_a_wrong_token_is_refused_and_a_login_without_csrf_is_403(
    api: httpx.AsyncClient,
) -> None:
    refused = await login(api, "askpro_nope_nope")
    assert refused.status_code == 401
    assert "The login was not accepted." in refused.text
    assert "askpro_session" not in refused.headers.get("set-cookie", "")
    forged = await api.post("/dashboard/login", data={"token": "x"})
    assert forged.status_code == 403


async def test_a_platform_token_chooses_a_company_or_all_companies(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    first = await create_company(session, name="First")
    second = await create_company(session, name="Second")
    await create_webhook_event(session, first, status="dead")
    await create_webhook_event(session, second, status="dead")
    platform = await create_token(session, None, name="operator")
    await session.commit()
    response = await login(api, platform.plaintext)
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/company"
    chooser = await api.get("/dashboard/company")
    assert "First" in chooser.text
    assert "Second" in chooser.text
    before = await api.get("/dashboard")
    assert before.status_code == 303  # no company chosen yet
    chosen = await api.post(
        "/dashboard/company", data={"csrf_token": csrf_of(chooser), "company_id": str(second.id)}
    )
    assert chosen.status_code == 303
    today = await api.get("/dashboard")
    assert today.status_code == 200
    assert "Second" in today.text
    listed = await api.get("/dashboard/webhooks")
    assert listed.text.count('class="status status-dead"') == 1
    everything = await api.post(
        "/dashboard/company", data={"csrf_token": csrf_of(chooser), "company_id": ""}
    )
    assert everything.headers["location"] == "/dashboard/webhooks"
    listed = await api.get("/dashboard/webhooks")
    assert listed.text.count('class="status status-dead"') == 2


async def test_today_shows_only_the_numbers_the_token_may_read(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company = await create_company(session)
    caller = await create_token(session, company, scopes=[Scope.CALLS_READ])
    await session.commit()
    await login(api, caller.plaintext)
    today = await api.get("/dashboard")
    assert 'id="calls-answered"' in today.text
    assert 'id="dead-webhooks"' not in today.text
    assert 'id="balance"' not in today.text
    forbidden = await api.get("/dashboard/webhooks")
    assert forbidden.status_code == 403
    assert "webhooks:read" in forbidden.text


async def test_bulk_replay_asks_again_when_the_count_changed(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company = await create_company(session)
    await create_webhook_event(session, company, status="dead")
    issued = await create_token(session, company)
    await session.commit()
    await login(api, issued.plaintext)
    confirm = await api.get("/dashboard/webhooks/replay?status=dead")
    assert "<strong>1</strong>" in confirm.text
    await create_webhook_event(session, company, status="dead")  # a second one arrives
    await session.commit()
    again = await api.post(
        "/dashboard/webhooks/replay",
        data={"csrf_token": csrf_of(confirm), "status": "dead", "count": "1"},
    )
    assert again.status_code == 200
    assert 'role="alert"' in again.text  # "the number changed; confirm again"
    assert "<strong>2</strong>" in again.text
    statuses = (await session.scalars(select(WebhookEvent.status))).all()
    assert list(statuses) == ["dead", "dead"]


async def test_customers_are_found_by_number_or_name_prefix(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company = await create_company(session)
    await create_customer(session, company, phone="+4930123456", name="Clara Weber")
    await create_customer(session, company, phone="+4930999999", name="Ben 100% Fischer")
    issued = await create_token(session, company)
    await session.commit()
    await login(api, issued.plaintext)
    by_number = await api.get("/dashboard/customers", params={"q": "030 123456"})
    assert "Clara Weber" in by_number.text
    assert "Fischer" not in by_number.text
    by_name = await api.get("/dashboard/customers", params={"q": "clara"})
    assert "Clara Weber" in by_name.text
    assert "Fischer" not in by_name.text
    wildcard = await api.get("/dashboard/customers", params={"q": "%"})
    assert "Clara" not in wildcard.text  # a LIKE wildcard is searched for literally


def test_the_ack_latency_quantile_interpolates_inside_the_bucket() -> None:
    buckets = [(0.01, 50.0), (0.05, 90.0), (0.1, 100.0), (float("inf"), 100.0)]
    assert histogram_quantile(buckets, 0.95) == pytest.approx(0.075)
    assert histogram_quantile([(0.01, 0.0), (float("inf"), 0.0)], 0.95) is None


async def test_docs_pages_name_no_external_url(api: httpx.AsyncClient) -> None:
    for path in ("/docs", "/redoc"):
        page = await api.get(path)
        assert page.status_code == 200
        assert not re.search(r"(src|href)=\"?https?://", page.text), path
        assert "cdn" not in page.text.lower()
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        assert (await api.get(f"/docs-assets/{asset}")).status_code == 200
    assert (await api.get("/", follow_redirects=False)).headers["location"] == "/dashboard"


async def test_the_calendar_escapes_what_customers_are_called(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company = await create_company(session, locale="en")
    branch = await create_branch(session, company)
    staff = await create_staff(session, company, name="Anna", branch=branch)
    service = await create_service(session, company, name="Cut", staff=[staff])
    hostile = await create_customer(session, company, phone="+4930555", name='<b onclick="x()">Eve')
    starts = dt.datetime(2031, 3, 4, 10, tzinfo=dt.UTC)
    await create_appointment(session, company, staff, service, starts, customer_id=hostile.id)
    issued = await create_token(session, company)
    await session.commit()
    await login(api, issued.plaintext)
    for view in ("day", "week"):
        page = await api.get("/dashboard/appointments", params={"date": "2031-03-04", "view": view})
        assert page.status_code == 200
        assert "&lt;b onclick=&#34;x()&#34;&gt;Eve" in page.text
        assert '<b onclick="x()">' not in page.text
        assert "Cut" in page.text


async def test_a_call_lists_the_appointments_it_booked_and_the_ones_it_changed(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company = await create_company(session, locale="en")
    staff = await create_staff(session, company, name="Anna")
    service = await create_service(session, company, name="Cut", staff=[staff])
    started = dt.datetime(2031, 3, 4, 9, tzinfo=dt.UTC)
    call = Call(call_id="call_x", company_id=company.id, started_at=started,
                ended_at=started + dt.timedelta(minutes=3))  # fmt: skip
    session.add(call)
    await session.flush()
    booked = await create_appointment(
        session, company, staff, service, started + dt.timedelta(days=1), call_id=call.id
    )
    moved = await create_appointment(
        session, company, staff, service, started + dt.timedelta(days=2)
    )
    untouched = await create_appointment(
        session, company, staff, service, started + dt.timedelta(days=3)
    )
    session.add(AppointmentEvent(
        company_id=company.id, appointment_id=moved.id, kind="rescheduled",
        actor="retell:call_x", channel="phone", created_at=started + dt.timedelta(minutes=1),
    ))  # fmt: skip
    issued = await create_token(session, company)
    await session.commit()
    await login(api, issued.plaintext)
    page = await api.get(f"/dashboard/calls/{call.id}")
    assert f'/dashboard/appointments/{booked.id}"' in page.text
    assert f'/dashboard/appointments/{moved.id}"' in page.text
    assert f'/dashboard/appointments/{untouched.id}"' not in page.text


async def test_calcom_health_says_not_configured_or_that_the_key_does_not_decrypt(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    plain = await create_company(session, locale="en")
    broken = await create_company(session, locale="en", calcom_api_key_encrypted="not-fernet")
    plain_token = await create_token(session, plain)
    broken_token = await create_token(session, broken)
    await session.commit()
    await login(api, plain_token.plaintext)
    assert "not configured" in (await api.get("/dashboard/partials/calcom")).text
    api.cookies.clear()
    await login(api, broken_token.plaintext)
    answer = await api.get("/dashboard/partials/calcom")
    assert answer.status_code == 200
    assert "cannot be decrypted" in answer.text


SWITCHED_OFF = dt.datetime(2031, 3, 4, 9, 30, tzinfo=dt.UTC)  # 10:30 in Berlin


async def _gone_endpoint(
    session: AsyncSession, company: Company, url: str, waiting: int
) -> WebhookEndpoint:
    endpoint, _ = await create_endpoint(
        session, company, url=url, enabled=False, disabled_reason="gone",
        disabled_at=SWITCHED_OFF, failing_since=SWITCHED_OFF - dt.timedelta(hours=2),
    )  # fmt: skip
    for _ in range(waiting):
        await create_delivery(session, endpoint, status="pending")
    await create_delivery(session, endpoint, status="delivered")
    return endpoint


def _stalled_row(page: httpx.Response, endpoint: WebhookEndpoint) -> str:
    found = re.search(rf'<tr id="stalled-endpoint-{endpoint.id}">(.*?)</tr>', page.text, re.S)
    assert found is not None, page.text
    return found.group(1)


async def test_today_lists_an_endpoint_askpro_switched_off_with_its_waiting_deliveries(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company = await create_company(session, locale="en")
    gone = await _gone_endpoint(session, company, "https://crm.example.com/gone", waiting=2)
    await create_endpoint(session, company, url="https://crm.example.com/fine")
    retried, _ = await create_endpoint(
        session, company, url="https://crm.example.com/flaky", failing_since=SWITCHED_OFF
    )
    issued = await create_token(session, company, scopes=[Scope.WEBHOOK_ENDPOINTS_READ])
    await session.commit()
    await login(api, issued.plaintext)
    today = await api.get("/dashboard")
    row = _stalled_row(today, gone)
    assert "https://crm.example.com/gone" in row
    assert "Switched off: the receiver answered 410 Gone" in row
    assert "2031-03-04 10:30" in row  # the company's zone (Europe/Berlin)
    assert '<td class="waiting">2</td>' in row
    assert "Failing, still retried" in _stalled_row(today, retried)
    assert "crm.example.com/fine" not in today.text


async def test_today_shows_no_endpoint_of_another_company(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company = await create_company(session, locale="en")
    await create_endpoint(session, company, url="https://crm.example.com/fine")
    other = await create_company(session, locale="en")
    await _gone_endpoint(session, other, "https://other.example.com/gone", waiting=3)
    issued = await create_token(session, company)
    await session.commit()
    await login(api, issued.plaintext)
    today = await api.get("/dashboard")
    assert today.status_code == 200
    assert 'id="stalled-endpoints"' not in today.text  # every endpoint of its own is fine
    assert "other.example.com" not in today.text


async def test_today_shows_no_endpoints_without_the_scope(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company = await create_company(session, locale="en")
    await _gone_endpoint(session, company, "https://crm.example.com/gone", waiting=1)
    issued = await create_token(session, company, scopes=[Scope.CALLS_READ, Scope.WEBHOOKS_READ])
    await session.commit()
    await login(api, issued.plaintext)
    today = await api.get("/dashboard")
    assert today.status_code == 200
    assert 'id="stalled-endpoints"' not in today.text
    assert "crm.example.com" not in today.text


async def test_today_escapes_a_hostile_endpoint_url(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    company = await create_company(session)  # German, the default locale
    hostile = 'https://x.example.com/"><script>alert(1)</script>'
    gone = await _gone_endpoint(session, company, hostile, waiting=1)
    issued = await create_token(session, company)
    await session.commit()
    await login(api, issued.plaintext)
    today = await api.get("/dashboard")
    row = _stalled_row(today, gone)
    assert "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in row
    assert "<script>alert(1)" not in today.text
    assert '"><script>' not in today.text
    assert "Abgeschaltet: der Empfänger antwortete 410 Gone" in row
    assert "04.03.2031 10:30" in row
