"""The delivery engine: fan events out to endpoints, lease due deliveries, send, record.

At-least-once, never lost: a delivery is leased for one attempt (``leased_until``) and its
outcome recorded afterwards; a worker killed mid-attempt leaves the lease to expire, and
the next round sends the same body with the same ``webhook-id`` (receivers deduplicate on
it, as Standard Webhooks asks). A failed attempt waits per the retry schedule (± jitter,
at least the receiver's ``Retry-After``); after the last one the delivery is ``failed``.
A 410 Gone, or failures for longer than the disable period, switch the endpoint off
(``disabled_reason`` tells the company); its pending deliveries wait for it to be re-enabled.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import time
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.config import Settings
from askpro.kit.crypto import SecretBox
from askpro.kit.time import utc_now
from askpro.models import DeliveryAttempt, OutboundDelivery, WebhookEndpoint
from askpro.observability import get_logger
from askpro.outbound import metrics, repository, signing
from askpro.outbound.schemas import DeliveryStatus, DisabledReason
from askpro.outbound.service import envelope, live_secrets
from askpro.outbound.transport import Exchange, Resolver, TargetRefused, post, system_resolver
from askpro.runtime import Runtime

log = get_logger(__name__)

HTTP_CLIENT = "outbound.http"
MAX_RETRY_AFTER_SECONDS = 86_400.0
FAN_OUT_BATCH = 500


@dataclass(frozen=True)
class Outcome:
    """One attempt's result as recorded: an answer, or the reason there was none."""

    exchange: Exchange | None
    error: str | None
    latency_ms: int


def retry_delay(attempt: int, settings: Settings, retry_after: float | None) -> float | None:
    """Seconds before the attempt after ``attempt``; ``None`` when the schedule is used up."""
    schedule = settings.outbound_retry_schedule_seconds
    if attempt > len(schedule):
        return None
    jitter = settings.outbound_retry_jitter
    delay = schedule[attempt - 1] * random.uniform(1 - jitter, 1 + jitter)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return delay


def http_client(runtime: Runtime) -> httpx.AsyncClient:
    """The process's delivery client (no proxies from the environment, no redirects)."""
    client = runtime.extras.get(HTTP_CLIENT)
    if client is None:
        client = httpx.AsyncClient(trust_env=False, follow_redirects=False)
        runtime.extras[HTTP_CLIENT] = client
    assert isinstance(client, httpx.AsyncClient)
    return client


async def deliver_due(
    runtime: Runtime,
    *,
    limit: int = 100,
    resolver: Resolver = system_resolver,
    client: httpx.AsyncClient | None = None,
) -> int:
    """One round: fan out new events, lease up to ``limit`` due deliveries, send them all
    at once, record every outcome in one transaction; the number of attempts made."""
    settings = runtime.settings

    async def lease(session: AsyncSession) -> list[repository.Bundle]:
        await repository.fan_out(session, FAN_OUT_BATCH)
        claimed = await repository.claim(session, limit, settings.outbound_lease_seconds)
        return await repository.bundles(session, claimed) if claimed else []

    leased = await runtime.database.unit_of_work(lease, name="outbound.lease")
    if not leased:
        return 0
    sender = client or http_client(runtime)
    box = SecretBox(settings.secret_key.get_secret_value())
    outcomes = await asyncio.gather(
        *(_send(bundle, settings, box, sender, resolver) for bundle in leased)
    )

    async def record(session: AsyncSession) -> list[str]:
        deliveries, endpoints = await repository.lock_for_recording(
            session, [delivery.id for delivery, _, _ in leased]
        )
        results = []
        for (delivery, _, _), outcome in zip(leased, outcomes, strict=True):
            row = deliveries.get(delivery.id)
            if row is None:  # deleted with its endpoint meanwhile
                results.append("deleted")
                continue
            results.append(
                _record(
                    session, row, endpoints[row.endpoint_id], delivery.attempts, outcome, settings
                )
            )
        return results

    results = await runtime.database.unit_of_work(record, name="outbound.record")
    for (delivery, event, endpoint), outcome, result in zip(
        leased, outcomes, results, strict=False
    ):
        metrics.ATTEMPTS.labels(event.type, result).inc()
        log.info(
            "outbound.attempt",
            delivery_id=delivery.id,
            endpoint_id=endpoint.id,
            webhook_id=event.message_id,
            event_type=event.type,
            attempt=delivery.attempts,
            outcome=result,
            status_code=outcome.exchange.status_code if outcome.exchange else None,
            latency_ms=outcome.latency_ms,
        )
    return len(leased)


async def run_until_idle(
    runtime: Runtime,
    *,
    max_seconds: float,
    resolver: Resolver = system_resolver,
    client: httpx.AsyncClient | None = None,
) -> int:
    """Deliver rounds until nothing is due or ``max_seconds`` passed; the count sent."""
    deadline = time.monotonic() + max_seconds
    total = 0
    while time.monotonic() < deadline:
        sent = await deliver_due(runtime, resolver=resolver, client=client)
        total += sent
        if sent == 0:
            break
    return total


async def _send(
    bundle: repository.Bundle,
    settings: Settings,
    box: SecretBox,
    client: httpx.AsyncClient,
    resolver: Resolver,
) -> Outcome:
    """One signed POST of one delivery; never raises for the receiver's faults."""
    _, event, endpoint = bundle
    body = json.dumps(envelope(event), separators=(",", ":"), ensure_ascii=False).encode()
    now = utc_now()
    headers = signing.headers(
        live_secrets(endpoint, box, now), event.message_id, int(now.timestamp()), body
    )
    headers["user-agent"] = "askpro-webhooks/1"
    started = time.perf_counter()
    try:
        exchange = await post(
            client,
            endpoint.url,
            body,
            headers,
            resolver=resolver,
            allow_local=settings.outbound_allow_local_targets,
            follow_redirects=endpoint.follow_redirects,
            timeout_seconds=settings.outbound_timeout_seconds,
            max_bytes=settings.outbound_max_response_bytes,
        )
        outcome = Outcome(exchange, None, exchange.latency_ms)
    except TargetRefused as error:
        outcome = Outcome(None, f"refused: {error}", _ms(started))
    except (httpx.HTTPError, TimeoutError, OSError) as error:
        reason = "timed out" if isinstance(error, TimeoutError) else type(error).__name__
        outcome = Outcome(None, f"{reason}: {error}"[:500], _ms(started))
    metrics.ATTEMPT_SECONDS.observe(time.perf_counter() - started)
    return outcome


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def _record(
    session: AsyncSession,
    delivery: OutboundDelivery,
    endpoint: WebhookEndpoint,
    attempt: int,
    outcome: Outcome,
    settings: Settings,
) -> str:
    """Write the attempt row and move the delivery (and maybe the endpoint) on."""
    exchange = outcome.exchange
    session.add(
        DeliveryAttempt(
            company_id=delivery.company_id,
            delivery_id=delivery.id,
            attempt=attempt,
            status_code=exchange.status_code if exchange else None,
            latency_ms=outcome.latency_ms,
            response_snippet=exchange.snippet if exchange else None,
            error=outcome.error,
        )
    )
    now = utc_now()
    delivery.leased_until = None
    delivery.last_status_code = exchange.status_code if exchange else None
    delivery.last_error = outcome.error
    if exchange is not None and 200 <= exchange.status_code < 300:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = now
        endpoint.last_success_at = now
        endpoint.failing_since = None
        return "delivered"
    if exchange is not None and exchange.status_code == 410:
        _disable(endpoint, DisabledReason.GONE, now)
        delivery.next_attempt_at = now  # resumes when the company re-enables the endpoint
        return "gone"
    if exchange is not None and delivery.last_error is None:
        delivery.last_error = f"HTTP {exchange.status_code}"
    endpoint.failing_since = endpoint.failing_since or now
    if (now - endpoint.failing_since).total_seconds() >= settings.outbound_disable_after_seconds:
        _disable(endpoint, DisabledReason.FAILING, now)
    delay = retry_delay(attempt, settings, exchange.retry_after_seconds if exchange else None)
    if delay is None:
        delivery.status = DeliveryStatus.FAILED
        return "gave_up"
    delivery.next_attempt_at = now + dt.timedelta(seconds=delay)
    return "refused" if outcome.error and outcome.error.startswith("refused") else "failed"


def _disable(endpoint: WebhookEndpoint, reason: DisabledReason, now: dt.datetime) -> None:
    if endpoint.enabled:
        endpoint.enabled = False
        endpoint.disabled_reason = reason.value
        endpoint.disabled_at = now
        log.warning("outbound.endpoint_disabled", endpoint_id=endpoint.id, reason=reason.value)
