"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from askpro.kit.shared_state import degraded_components
from askpro.ops import liveness
from askpro.runtime import Runtime

router = APIRouter(tags=["operations"])


@router.get("/health", summary="Liveness: the process answers")
async def health() -> dict[str, str]:
    return {"status": "ok"}


async def _check_database(runtime: Runtime) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        async with runtime.database.session() as session:
            await session.execute(text("SELECT 1"))
            queued: int = (
                await session.execute(
                    text("SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'")
                )
            ).scalar_one()
    except Exception as error:  # noqa: BLE001 - any failure means not ready
        return {"ok": False, "error": type(error).__name__}
    return {
        "ok": True,
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
        "queued_jobs": queued,
    }


async def _check_redis(url: str) -> dict[str, Any]:
    from redis.asyncio import Redis

    client = Redis.from_url(url, socket_timeout=1)
    try:
        await client.ping()
    except Exception as error:  # noqa: BLE001
        return {"ok": False, "error": type(error).__name__}
    finally:
        await client.aclose()
    return {"ok": True}


@router.get(
    "/health/ready",
    summary="Readiness: database and queue; Redis, workers and fallbacks reported",
    responses={
        503: {
            "description": "A dependency is down: the same body with `status: unavailable`",
            "content": {"application/json": {}},
        }
    },
)
async def ready(request: Request) -> Response:
    """503 only when the database is unreachable (then nothing can be stored).

    Redis down is ``degraded``, not unready: every process keeps serving on its
    per-process fallbacks (``shared_state`` names them). No live worker is reported under
    ``workers`` (``unattended`` once events wait past ``ASKPRO_QUEUE_ALARM_SECONDS``) but
    does not take the web process out of a load balancer: it can still accept webhooks.
    """
    runtime: Runtime = request.app.state.runtime
    checks: dict[str, Any] = {"database": await _check_database(runtime)}
    if checks["database"]["ok"]:
        checks["workers"] = await _check_workers(runtime)
    if runtime.settings.redis_url:
        checks["redis"] = await _check_redis(runtime.settings.redis_url)
    fallbacks = degraded_components()
    checks["shared_state"] = {
        "ok": not fallbacks,
        "mode": "memory" if not runtime.settings.redis_url else "redis",
        "fallback": fallbacks,
    }
    if not checks["database"]["ok"]:
        status, code = "unavailable", 503
    elif all(check["ok"] for check in checks.values()):
        status, code = "ok", 200
    else:
        status, code = "degraded", 200
    return JSONResponse({"status": status, "checks": checks}, status_code=code)


async def _check_workers(runtime: Runtime) -> dict[str, Any]:
    try:
        async with runtime.database.session() as session:
            measured = await liveness.measure(session, runtime.settings.queue_alarm_seconds)
    except Exception as error:  # noqa: BLE001 - reported, the database check decides
        return {"ok": False, "error": type(error).__name__}
    return {"ok": not measured.unattended, **measured.as_dict()}


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
