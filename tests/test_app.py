"""The app's front door: webhook routes served ahead of the API stack keep the same contract."""

from __future__ import annotations

import gc

import httpx
import pytest
from starlette.requests import Request

from askpro.app import create_app
from askpro.db import Database
from askpro.runtime import Runtime
from askpro.webhooks.ingest import WebhookProcessor
from tests.fixtures.webhooks import deliver, events, stripe_event


async def _metrics(client: httpx.AsyncClient) -> str:
    return (await client.get("/metrics")).text


async def test_a_webhook_keeps_its_correlation_id_and_is_counted_per_route_and_status(
    client: httpx.AsyncClient, database: Database
) -> None:
    accepted = await deliver(client, "stripe", stripe_event("evt_front_door"))
    forged = await deliver(
        client, "stripe", stripe_event("evt_forged"), headers={"Stripe-Signature": "t=1,v1=00"}
    )
    assert accepted.status_code == 200
    assert forged.status_code == 401
    assert forged.headers["content-type"] == "application/problem+json"
    [event] = await events(database)
    assert event.correlation_id == accepted.headers["X-Request-ID"]
    metrics = await _metrics(client)
    for status in ("200", "401"):
        route = f'method="POST",route="/webhooks/stripe",status="{status}"'
        assert f"askpro_http_requests_total{{{route}}}" in metrics


async def test_an_unexpected_error_on_a_webhook_route_is_a_problem_500(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: WebhookProcessor, definition: object, request: Request) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(WebhookProcessor, "ingest", broken)
    response = await deliver(client, "stripe", stripe_event())
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/internal-error")
    assert "X-Request-ID" in response.headers


async def test_other_methods_on_a_webhook_path_still_reach_the_router(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/webhooks/stripe")
    assert response.status_code == 405


async def test_the_serving_app_freezes_its_start_up_heap_and_an_app_built_by_tests_does_not(
    runtime: Runtime,
) -> None:
    frozen = {}
    try:
        for freeze_heap in (False, True):
            gc.unfreeze()
            app = create_app(runtime=runtime, freeze_heap=freeze_heap)
            async with app.router.lifespan_context(app):
                frozen[freeze_heap] = gc.get_freeze_count()
    finally:
        gc.unfreeze()
    assert frozen[False] == 0
    assert frozen[True] > 0
