"""``GET /api/health/calcom``: 200 when every configured Cal.com account is healthy."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from askpro.integrations.calcom.health import calcom_health
from askpro.runtime import Runtime

router = APIRouter(tags=["operations"])


@router.get(
    "/api/health/calcom",
    summary="Cal.com accounts: reachable, latency, breaker state, remaining rate budget",
    responses={503: {"description": "an account is unreachable or its breaker is open"}},
)
async def health_calcom(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    async with runtime.database.sessions() as session:
        report = await calcom_health(session, runtime.settings)
    return JSONResponse(report, status_code=503 if report["status"] == "unavailable" else 200)
