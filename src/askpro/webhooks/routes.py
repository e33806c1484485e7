"""``POST /webhooks/{retell,retell/inbound,calcom,stripe}`` — thin: the processor does the work.

The app serves these through :data:`HOT_ROUTES` (exact paths, ahead of the API's route table
and middleware); the router here describes them in the OpenAPI document and stays the
fallback route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response

from askpro.runtime import Runtime
from askpro.webhooks.ingest import WebhookProcessor
from askpro.webhooks.providers import CALCOM, RETELL, STRIPE

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Verified, but the body is not an event of this provider"},
    401: {"description": "Missing, malformed or wrong signature, or a stale timestamp"},
    413: {"description": "Body over ASKPRO_MAX_WEBHOOK_BYTES"},
    503: {"description": "The event could not be stored; retry later"},
}
_ACCEPTED: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Stored (`accepted`) or already stored (`duplicate`)",
        "content": {
            "application/json": {"example": {"status": "accepted", "event_id": 1}},
        },
    }
}


def _processor(request: Request) -> WebhookProcessor:
    runtime: Runtime = request.app.state.runtime
    processor: WebhookProcessor | None = getattr(request.app.state, "webhook_processor", None)
    if processor is None or processor.runtime is not runtime:
        processor = WebhookProcessor(runtime)
        request.app.state.webhook_processor = processor
    return processor


@router.post(
    "/retell",
    status_code=204,
    summary="Retell call events (call_started, call_ended, call_analyzed, …)",
    responses={204: {"description": "Stored or already stored"}, **_ERRORS},
)
async def retell_events(request: Request) -> Response:
    return await _processor(request).ingest(RETELL, request)


@router.post(
    "/retell/inbound",
    summary="Retell inbound-call webhook, answered synchronously with `call_inbound`",
    responses={
        200: {"content": {"application/json": {"example": {"call_inbound": {}}}}},
        **_ERRORS,
    },
)
async def retell_inbound(request: Request) -> Response:
    return await _processor(request).answer_inbound(RETELL, request)


@router.post(
    "/calcom",
    summary="Cal.com booking events and PING (optional `?company=ID` for its own secret)",
    responses={**_ACCEPTED, **_ERRORS},
)
async def calcom_events(request: Request) -> Response:
    return await _processor(request).ingest(CALCOM, request)


@router.post("/stripe", summary="Stripe events", responses={**_ACCEPTED, **_ERRORS})
async def stripe_events(request: Request) -> Response:
    return await _processor(request).ingest(STRIPE, request)


# (method, path) → endpoint, served by ``askpro.app.HotPaths`` without the route-table walk.
HOT_ROUTES: dict[tuple[str, str], Callable[[Request], Awaitable[Response]]] = {
    ("POST", "/webhooks/retell"): retell_events,
    ("POST", "/webhooks/retell/inbound"): retell_inbound,
    ("POST", "/webhooks/calcom"): calcom_events,
    ("POST", "/webhooks/stripe"): stripe_events,
}
