"""/api/v1/billing: tenant-scoped reads and the Checkout top-up (Stripe mocked with respx)."""

from __future__ import annotations

import urllib.parse
from collections.abc import AsyncIterator

import httpx
import psycopg
import pytest
import respx
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.app import create_app
from askpro.auth.scopes import Scope
from askpro.billing.accounts import attach_company, create_reseller_account
from askpro.billing.service import adjust
from askpro.db import Database
from askpro.runtime import Runtime
from tests.fixtures import auth
from tests.fixtures.auth import create_token
from tests.fixtures.billing import (
    create_billed_company,
    deliver,
    retell_call_ended,
    stripe_event,
    stripe_object,
)
from tests.fixtures.factories import create_company

CHECKOUT_URL = "https://api.stripe.com/v1/checkout/sessions"


async def _client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime=runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://askpro.test") as client:
        yield client
    await app.state.audit_writer.close()


@pytest.fixture
async def api(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(runtime):
        yield client


@pytest.fixture
async def api_with_stripe(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    settings = runtime.settings.model_copy(update={"stripe_api_key": SecretStr("sk_test_123")})
    async for client in _client(Runtime(settings=settings, database=runtime.database)):
        yield client


async def token_for(session: AsyncSession, company_id: int, *scopes: Scope) -> auth.TestToken:
    from askpro.models import Company

    company = await session.get(Company, company_id)
    token = await create_token(session, company, scopes=list(scopes) or [Scope.BILLING_READ])
    await session.commit()
    return token


async def test_balance_and_ledger_with_kind_filter_and_pagination(
    api: httpx.AsyncClient, database: Database, session: AsyncSession
) -> None:
    company_id, number = await create_billed_company(database, price_per_minute_cents=10)
    async with database.sessions() as work:
        await adjust(work, company_id, 1000, reason="welcome", actor="test")
        await work.commit()
    for index in range(5):
        body = retell_call_ended(f"call_api_{index}", number, duration_ms=60_000)
        await deliver(database, "retell", body)
    token = await token_for(session, company_id)

    balance = await api.get("/api/v1/billing/balance", headers=token.headers)
    assert balance.status_code == 200, balance.text
    assert balance.json()["account_balance_cents"] == 950
    assert balance.json()["company_balance_cents"] == 950
    assert balance.json()["out_of_credit"] is False

    charges = await api.get(
        "/api/v1/billing/ledger-entries",
        params={"kind": "call_charge", "limit": 3},
        headers=token.headers,
    )
    assert charges.status_code == 200, charges.text
    page = charges.json()
    assert [item["external_reference"] for item in page["items"]] == [
        "call_api_4",
        "call_api_3",
        "call_api_2",
    ]
    rest = await api.get(
        "/api/v1/billing/ledger-entries",
        params={"kind": "call_charge", "limit": 3, "cursor": page["next_cursor"]},
        headers=token.headers,
    )
    assert [item["external_reference"] for item in rest.json()["items"]] == [
        "call_api_1",
        "call_api_0",
    ]
    assert rest.json()["next_cursor"] is None
    everything = await api.get("/api/v1/billing/ledger-entries", headers=token.headers)
    assert {item["kind"] for item in everything.json()["items"]} == {"adjustment", "call_charge"}
    future = await api.get(
        "/api/v1/billing/ledger-entries",
        params={"since": "2999-01-01T00:00:00+00:00"},
        headers=token.headers,
    )
    assert future.json()["items"] == []
    bad = await api.get(
        "/api/v1/billing/ledger-entries", params={"kind": "gift"}, headers=token.headers
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"


async def test_lists_are_tenant_scoped_and_reseller_bills_stay_with_the_reseller(
    api: httpx.AsyncClient, database: Database, session: AsyncSession
) -> None:
    own_id, _ = await create_billed_company(database)
    checkout = stripe_object(
        "checkout.session",
        status="complete",
        payment_status="paid",
        amount_total=2000,
        currency="eur",
        customer="cus_own",
        metadata={"company_id": str(own_id)},
    )
    await deliver(database, "stripe", stripe_event("checkout.session.completed", checkout))
    invoice = stripe_object(
        "invoice", status="paid", currency="eur", customer="cus_own", parent=None, subscription=None
    )
    await deliver(database, "stripe", stripe_event("invoice.paid", invoice))

    stranger = await create_company(session, name="Stranger")
    async with database.sessions() as work:
        reseller = await create_reseller_account(work, "Agency")
        await work.flush()
        member_a, _ = await create_billed_company(database)
        member_b, _ = await create_billed_company(database)
        await attach_company(work, member_a, reseller.id)
        await attach_company(work, member_b, reseller.id)
        from askpro.billing.accounts import link_stripe_customer

        await link_stripe_customer(work, reseller, "cus_agency")
        await work.commit()
    reseller_invoice = stripe_object(
        "invoice",
        id="in_agency",
        status="paid",
        currency="eur",
        customer="cus_agency",
        parent=None,
        subscription=None,
    )
    await deliver(database, "stripe", stripe_event("invoice.paid", reseller_invoice))

    own = await token_for(session, own_id)
    other = await token_for(session, stranger.id)
    member = await token_for(session, member_a)
    for path in ("payments", "invoices"):
        mine = await api.get(f"/api/v1/billing/{path}", headers=own.headers)
        assert mine.status_code == 200, mine.text
        assert len(mine.json()["items"]) == 1, path
        theirs = await api.get(f"/api/v1/billing/{path}", headers=other.headers)
        assert theirs.json()["items"] == [], path
    member_invoices = await api.get("/api/v1/billing/invoices", headers=member.headers)
    assert member_invoices.json()["items"] == []


async def test_checkout_without_stripe_key_is_503_problem(
    api: httpx.AsyncClient, session: AsyncSession, database: Database
) -> None:
    company_id, _ = await create_billed_company(database)
    token = await token_for(session, company_id, Scope.BILLING_WRITE)
    response = await api.post(
        "/api/v1/billing/checkout-sessions",
        json={
            "amount_cents": 5000,
            "success_url": "https://salon.example/ok",
            "cancel_url": "https://salon.example/cancel",
        },
        headers=token.headers,
    )
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/billing-not-configured")
    assert "ASKPRO_STRIPE_API_KEY" in response.json()["detail"]


async def test_checkout_needs_billing_write(
    api_with_stripe: httpx.AsyncClient, session: AsyncSession, database: Database
) -> None:
    company_id, _ = await create_billed_company(database)
    token = await token_for(session, company_id, Scope.BILLING_READ)
    response = await api_with_stripe.post(
        "/api/v1/billing/checkout-sessions",
        json={
            "amount_cents": 5000,
            "success_url": "https://a.example",
            "cancel_url": "https://a.example",
        },
        headers=token.headers,
    )
    assert response.status_code == 403


async def test_checkout_creates_a_stripe_session_carrying_the_company(
    api_with_stripe: httpx.AsyncClient,
    session: AsyncSession,
    database: Database,
    database_url: str,
) -> None:
    company_id, _ = await create_billed_company(database)
    token = await token_for(session, company_id, Scope.BILLING_WRITE)
    created = stripe_object(
        "checkout.session",
        id="cs_test_created",
        url="https://checkout.stripe.com/c/pay/cs_test_created",
    )
    open_transactions: list[int] = []

    def stripe_answers(request: httpx.Request) -> httpx.Response:
        # While Stripe is being called, no connection of ours may sit in a transaction.
        with psycopg.connect(database_url) as probe:
            row = probe.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
            ).fetchone()
        open_transactions.append(int(row[0]) if row else -1)
        return httpx.Response(200, json=created)

    with respx.mock(assert_all_called=True) as stripe_api:
        route = stripe_api.post(CHECKOUT_URL).mock(side_effect=stripe_answers)
        response = await api_with_stripe.post(
            "/api/v1/billing/checkout-sessions",
            json={
                "amount_cents": 5000,
                "success_url": "https://salon.example/ok",
                "cancel_url": "https://salon.example/cancel",
            },
            headers={**token.headers, "Idempotency-Key": "order-17"},
        )
    assert response.status_code == 201, response.text
    assert open_transactions == [0]
    assert response.json() == {
        "id": "cs_test_created",
        "url": "https://checkout.stripe.com/c/pay/cs_test_created",
        "amount_cents": 5000,
        "currency": "eur",
    }
    sent = route.calls.last.request
    assert sent.headers["Authorization"] == "Bearer sk_test_123"
    assert sent.headers["Idempotency-Key"] == f"askpro-topup-{company_id}-order-17"
    form = dict(urllib.parse.parse_qsl(sent.content.decode()))
    assert form["mode"] == "payment"
    assert form["metadata[company_id]"] == str(company_id)
    assert form["payment_intent_data[metadata][company_id]"] == str(company_id)
    assert form["line_items[0][price_data][unit_amount]"] == "5000"
    assert form["line_items[0][price_data][currency]"] == "eur"
    assert form["client_reference_id"] == str(company_id)


async def test_checkout_stripe_error_is_a_502_problem(
    api_with_stripe: httpx.AsyncClient, session: AsyncSession, database: Database
) -> None:
    company_id, _ = await create_billed_company(database)
    token = await token_for(session, company_id, Scope.BILLING_WRITE)
    error = {"error": {"type": "invalid_request_error", "message": "Amount too small"}}
    with respx.mock() as stripe_api:
        stripe_api.post(CHECKOUT_URL).respond(400, json=error)
        response = await api_with_stripe.post(
            "/api/v1/billing/checkout-sessions",
            json={
                "amount_cents": 500,
                "success_url": "https://a.example",
                "cancel_url": "https://a.example",
            },
            headers=token.headers,
        )
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/problem+json"
