"""The door: real signed samples in, forged or broken requests out (and never stored)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from askpro.db import Database
from askpro.kit.crypto import SecretBox
from askpro.models import Company, PhoneNumber
from askpro.runtime import Runtime
from askpro.webhooks.signatures import sign_calcom, sign_retell, sign_stripe
from tests.fixtures.webhooks import (
    calcom_event,
    deliver,
    events,
    job_count,
    retell_event,
    running_worker,
    sample,
    stripe_event,
    wait_for_status,
)


@pytest.mark.parametrize(
    ("provider", "body", "event_type"),
    [
        ("retell", retell_event(), "call_ended"),
        ("calcom", calcom_event(), "BOOKING_CREATED"),
        ("stripe", stripe_event(), "invoice.paid"),
    ],
)
async def test_each_providers_signed_sample_is_accepted_and_processed(
    client: httpx.AsyncClient, database: Database, provider: str, body: bytes, event_type: str
) -> None:
    response = await deliver(client, provider, body)
    if provider == "retell":
        assert response.status_code == 204
        assert response.content == b""
    else:
        assert response.status_code == 200
        assert response.json()["status"] == "accepted"
    [event] = await events(database)
    assert (event.provider, event.event_type, event.status) == (provider, event_type, "received")
    assert event.body == body
    assert event.correlation_id == response.headers["X-Request-ID"]
    assert await job_count(database) == 1
    async with running_worker():
        processed = await wait_for_status(database, event.id, {"processed"})
    assert processed.attempts == 1
    assert processed.processed_at is not None


async def test_retell_chat_agents_events_are_stored_acknowledged_and_end_ignored(
    client: httpx.AsyncClient, database: Database
) -> None:
    chat = sample("retell/chat_ended.webhook.json")
    chat_id = chat["chat"]["chat_id"]
    for event_type in ("chat_started", "chat_ended", "chat_analyzed"):
        body = json.dumps({**chat, "event": event_type}).encode()
        response = await deliver(client, "retell", body)
        assert response.status_code == 204, response.text
        assert (await deliver(client, "retell", body)).status_code == 204  # Retell's retry
    stored = await events(database)
    assert [(e.event_type, e.dedup_key, e.entity_key) for e in stored] == [
        (event_type, f"{event_type}:{chat_id}", f"retell:chat:{chat_id}")
        for event_type in ("chat_started", "chat_ended", "chat_analyzed")
    ]
    async with running_worker():
        for event in stored:
            settled = await wait_for_status(database, event.id, {"ignored", "processed"})
            assert settled.status == "ignored", settled.event_type


async def test_dedup_and_entity_keys_follow_each_providers_identity(
    client: httpx.AsyncClient, database: Database
) -> None:
    await deliver(client, "retell", retell_event())
    await deliver(client, "calcom", calcom_event())
    await deliver(client, "stripe", stripe_event())
    ping = {
        "triggerEvent": "PING",
        "createdAt": "2026-11-28T07:00:00Z",
        "payload": {"type": "Test"},
    }
    await deliver(client, "calcom", json.dumps(ping).encode())
    keys = {(e.provider, e.dedup_key, e.entity_key) for e in await events(database)}
    assert ("retell", "call_ended:Jabr9TXYYJHfvl6Syypi88rdAHYHmcq6",
            "retell:call:Jabr9TXYYJHfvl6Syypi88rdAHYHmcq6") in keys  # fmt: skip
    assert ("calcom", "BOOKING_CREATED:bFJeNb2uX8ANpT3JL5EfXw:2023-05-24T09:30:00.538Z",
            "calcom:booking:bFJeNb2uX8ANpT3JL5EfXw") in keys  # fmt: skip
    invoice_id = sample("stripe/invoice.object.json")["id"]
    assert ("stripe", "evt_1Pgc76B7WZ01zgkWwyRHS12y", f"stripe:{invoice_id}") in keys
    assert any(p == "calcom" and k.startswith("PING:sha256:") for p, k, _ in keys)


async def test_a_redelivery_is_a_duplicate_with_the_same_event_id(
    client: httpx.AsyncClient, database: Database
) -> None:
    first = await deliver(client, "stripe", stripe_event())
    again = await deliver(client, "stripe", stripe_event())  # re-signed, same evt_ id
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate", "event_id": first.json()["event_id"]}
    assert len(await events(database)) == 1
    assert await job_count(database) == 1
    metrics = (await client.get("/metrics")).text
    for outcome in ("accepted", "duplicate"):
        assert (
            f'askpro_webhooks_received_total{{event_type="invoice.paid",outcome="{outcome}",provider="stripe"}}'
            in metrics
        )
    assert (
        'askpro_webhook_ack_seconds_bucket{le="0.05",outcome="accepted",provider="stripe"}'
        in metrics
    )


def _forged(provider: str, body: bytes) -> list[tuple[str, bytes, dict[str, str]]]:
    """(case, body sent, headers): wrong secret, tampered, missing, malformed, stale."""
    now = int(time.time())
    if provider == "retell":
        good = sign_retell(body, "test-retell-key")
        return [
            ("wrong secret", body, {"x-retell-signature": sign_retell(body, "other")}),
            ("tampered", body + b" ", {"x-retell-signature": good}),
            ("missing", body, {}),
            ("malformed", body, {"x-retell-signature": good.replace("v=", "t=")}),
            ("stale", body, {"x-retell-signature": sign_retell(body, "test-retell-key",
                                                                (now - 301) * 1000)}),
        ]  # fmt: skip
    if provider == "calcom":
        good = sign_calcom(body, "test-calcom-secret")
        return [
            ("wrong secret", body, {"X-Cal-Signature-256": sign_calcom(body, "other")}),
            ("tampered", body.replace(b"John", b"Jane"), {"X-Cal-Signature-256": good}),
            ("missing", body, {}),
            ("malformed", body, {"X-Cal-Signature-256": "sha256=" + good}),
            ("unsigned", body, {"X-Cal-Signature-256": "no-secret-provided"}),
        ]
    good = sign_stripe(body, "whsec_test_secret")
    return [
        ("wrong secret", body, {"Stripe-Signature": sign_stripe(body, "whsec_other")}),
        ("tampered", body.replace(b"invoice", b"invoicf"), {"Stripe-Signature": good}),
        ("missing", body, {}),
        ("malformed", body, {"Stripe-Signature": "garbage"}),
        ("stale", body, {"Stripe-Signature": sign_stripe(body, "whsec_test_secret", now - 301)}),
    ]


@pytest.mark.parametrize(
    ("provider", "body"),
    [("retell", retell_event()), ("calcom", calcom_event()), ("stripe", stripe_event())],
)
async def test_forged_requests_get_401_and_leave_no_row(
    client: httpx.AsyncClient, database: Database, provider: str, body: bytes
) -> None:
    for case, sent, headers in _forged(provider, body):
        response = await deliver(client, provider, sent, headers=headers)
        assert response.status_code == 401, case
        assert response.headers["content-type"] == "application/problem+json"
    assert await events(database) == []
    assert await job_count(database) == 0
    metrics = (await client.get("/metrics")).text
    assert (
        f'askpro_webhooks_received_total{{event_type="-",outcome="rejected_signature",provider="{provider}"}}'
        in metrics
    )


async def test_either_of_two_rotating_secrets_verifies(
    runtime: Runtime, database: Database
) -> None:
    from askpro.app import create_app

    rotating = runtime.settings.model_copy(
        update={
            "retell_api_key": _secret("old-key,new-key"),
            "calcom_webhook_secret": _secret("old-cal, new-cal"),
            "stripe_webhook_secret": _secret("whsec_old,whsec_new"),
        }
    )
    app = create_app(runtime=Runtime(settings=rotating, database=database))
    async with _client(app) as client:
        for provider, secrets in {
            "retell": ("old-key", "new-key"),
            "calcom": ("old-cal", "new-cal"),
            "stripe": ("whsec_old", "whsec_new"),
        }.items():
            for index, secret in enumerate(secrets):
                body = {
                    "retell": lambda i: retell_event(call_id=f"call-{i}"),
                    "calcom": lambda i: calcom_event(uid=f"uid-{i}"),
                    "stripe": lambda i: stripe_event(event_id=f"evt_{i}"),
                }[provider](index)
                response = await deliver(client, provider, body, secret=secret)
                assert response.status_code in (200, 204), (provider, secret)
    assert len(await events(database)) == 6


async def test_a_companys_own_secret_verifies_events_routed_to_it(
    client: httpx.AsyncClient, database: Database, runtime: Runtime
) -> None:
    box = SecretBox(runtime.settings.secret_key.get_secret_value())
    async with database.sessions() as session:
        company = Company(
            name="Own secrets",
            retell_api_key_encrypted=box.encrypt("company-retell-key"),
            calcom_webhook_secret_encrypted=box.encrypt("company-cal-secret"),
        )
        session.add(company)
        await session.flush()
        session.add(PhoneNumber(number="+12137771235", company_id=company.id))
        await session.commit()
    retell = await deliver(client, "retell", retell_event(), secret="company-retell-key")
    assert retell.status_code == 204
    calcom = await deliver(
        client, "calcom", calcom_event(), secret="company-cal-secret",
        params={"company": str(company.id)},
    )  # fmt: skip
    assert calcom.status_code == 200
    # The company's secret does not open the door for events routed elsewhere.
    elsewhere = await deliver(client, "calcom", calcom_event(uid="x"), secret="company-cal-secret")
    assert elsewhere.status_code == 401
    stored = await events(database)
    assert [e.company_id for e in stored] == [company.id, company.id]


async def test_events_are_routed_to_existing_companies_only(
    client: httpx.AsyncClient, database: Database
) -> None:
    async with database.sessions() as session:
        company = Company(name="Routed")
        session.add(company)
        await session.flush()
        session.add(PhoneNumber(number="+12137771235", company_id=company.id))
        await session.commit()
    await deliver(client, "retell", retell_event())  # inbound call to the company's number
    invoice = json.loads(stripe_event(event_id="evt_routed"))
    invoice["data"]["object"]["metadata"] = {"company_id": str(company.id)}
    await deliver(client, "stripe", json.dumps(invoice).encode())
    invoice["id"], invoice["data"]["object"]["metadata"] = "evt_nowhere", {"company_id": "99999"}
    unknown = await deliver(client, "stripe", json.dumps(invoice).encode())
    assert unknown.status_code == 200  # an unknown company is no reason to lose the event
    await deliver(client, "calcom", calcom_event(), params={"company": str(company.id)})
    routed = {e.dedup_key: e.company_id for e in await events(database)}
    assert routed["call_ended:Jabr9TXYYJHfvl6Syypi88rdAHYHmcq6"] == company.id
    assert routed["evt_routed"] == company.id
    assert routed["evt_nowhere"] is None
    assert list(routed.values())[-1] == company.id


async def test_a_valid_signature_on_malformed_json_is_400_and_not_stored(
    client: httpx.AsyncClient, database: Database
) -> None:
    for provider, body in [
        ("stripe", b'{"id": "evt_1", "type": '),
        ("calcom", b"not json at all"),
        ("retell", b'["a list"]'),
        ("stripe", b'{"type": "invoice.paid"}'),  # no event id
    ]:
        response = await deliver(client, provider, body)
        assert response.status_code == 400, (provider, body)
    assert await events(database) == []


async def test_a_body_over_the_limit_is_413_by_its_declared_length(
    client: httpx.AsyncClient, database: Database, runtime: Runtime
) -> None:
    limit = runtime.settings.max_webhook_bytes
    body = stripe_event() + b" " * limit
    response = await deliver(client, "stripe", body)
    assert response.status_code == 413
    assert await events(database) == []


async def test_a_streamed_body_over_the_limit_is_413_without_reading_it_all(
    client: httpx.AsyncClient, database: Database, runtime: Runtime
) -> None:
    limit = runtime.settings.max_webhook_bytes
    chunk = b" " * 65536
    total_chunks = 10 * limit // len(chunk)
    pulled = 0

    async def endless() -> AsyncIterator[bytes]:  # no Content-Length: chunked
        nonlocal pulled
        for _ in range(total_chunks):
            pulled += 1
            yield chunk

    response = await client.post(
        "/webhooks/stripe", content=endless(), headers={"Stripe-Signature": "t=1,v1=00"}
    )
    assert response.status_code == 413
    assert pulled <= limit // len(chunk) + 2 < total_chunks
    assert await events(database) == []


async def test_an_unknown_event_type_is_acknowledged_and_ignored(
    client: httpx.AsyncClient, database: Database
) -> None:
    body = json.dumps(sample("stripe/event.fixture.json")).encode()  # plan.created, unhandled
    response = await deliver(client, "stripe", body)
    assert response.status_code == 200
    assert response.json()["status"] == "accepted"
    [event] = await events(database)
    async with running_worker():
        ignored = await wait_for_status(database, event.id, {"ignored"})
    assert ignored.event_type == "plan.created"


async def test_retell_inbound_is_answered_synchronously_and_recorded_processed(
    client: httpx.AsyncClient, database: Database
) -> None:
    body = json.dumps(sample("retell/call_inbound.request.json")).encode()
    response = await deliver(client, "retell-inbound", body)
    assert response.status_code == 200
    assert response.json() == {"call_inbound": {}}
    [event] = await events(database)
    assert (event.event_type, event.status, event.attempts) == ("call_inbound", "processed", 1)
    assert await job_count(database) == 0
    forged = await deliver(client, "retell-inbound", body, secret="wrong")
    assert forged.status_code == 401


async def test_a_failing_inbound_responder_still_answers_and_keeps_the_evidence(
    client: httpx.AsyncClient, database: Database
) -> None:
    from askpro.webhooks import registry

    async def broken(_session: object, _payload: object) -> dict[str, object]:
        raise LookupError("no agent for this number")

    original = registry.inbound_responder()
    registry.set_inbound_responder(broken)  # type: ignore[arg-type]
    try:
        body = json.dumps(sample("retell/call_inbound.request.json")).encode()
        response = await deliver(client, "retell-inbound", body)
    finally:
        registry.set_inbound_responder(original)
    assert response.status_code == 200
    assert response.json() == {"call_inbound": {}}
    [event] = await events(database)
    assert event.status == "failed"
    assert event.last_error == "LookupError: no agent for this number"


def _secret(value: str) -> object:
    from pydantic import SecretStr

    return SecretStr(value)


def _client(app: object) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://askpro.test")
