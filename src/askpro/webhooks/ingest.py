"""The one ingest path: read (bounded) → verify raw bytes → parse → store + enqueue → commit → ack.

Nothing from an unverified request is stored: it is counted and logged with the request's
correlation id. A database failure answers 503 so the provider retries; a 2xx goes back
only after the inbox row and its job are committed together.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response

from askpro.db import retry_on_dead_connection
from askpro.kit import jsonfast
from askpro.kit.crypto import SecretBox
from askpro.kit.problems import Problem
from askpro.observability import current_correlation_id, get_logger
from askpro.runtime import Runtime
from askpro.webhooks import metrics, repository
from askpro.webhooks.providers import (
    MalformedPayload,
    ParsedEvent,
    ProviderDefinition,
    Routing,
)
from askpro.webhooks.registry import inbound_responder
from askpro.webhooks.signatures import SignatureError, split_secrets

log = get_logger(__name__)

PROCESS_TASK = "askpro.webhooks.process"
EMPTY_INBOUND_ANSWER: dict[str, Any] = {"call_inbound": {}}


class BodyTooLarge(Exception):
    pass


QUEUEING_LOCK_PREFIX = "webhook-event:"


def queueing_lock(event_id: int) -> str:
    """At most one waiting job per event (ingest, sweeper and replay all use it)."""
    return f"{QUEUEING_LOCK_PREFIX}{event_id}"


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than ``limit`` bytes without reading the rest.

    Chunks are appended to one growing buffer (a call event of a long Retell call carries
    megabytes of transcript) rather than kept as a list of chunks beside their join.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        if len(body) + len(chunk) > limit:
            raise BodyTooLarge
        body += chunk
    return bytes(body)


def parse_json(body: bytes) -> Any:
    try:
        return jsonfast.loads(body)
    except ValueError as error:  # includes UnicodeDecodeError
        raise MalformedPayload(f"the body is not valid JSON: {error}") from None


@dataclass(frozen=True)
class Verified:
    company_id: int | None  # set when the company's own secret verified the request


class WebhookProcessor:
    """Runs every provider through the same path; one instance per app."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self._box = SecretBox(runtime.settings.secret_key.get_secret_value())

    # -- steps --------------------------------------------------------------------------

    def _reject(
        self, provider: str, outcome: str, status: int, reason: str, started: float
    ) -> Problem:
        metrics.RECEIVED.labels(provider, "-", outcome).inc()
        metrics.ACK_SECONDS.labels(provider, outcome).observe(time.perf_counter() - started)
        log.warning("webhook.rejected", provider=provider, outcome=outcome, reason=reason)
        titles = {
            401: "Invalid webhook signature",
            400: "Malformed webhook body",
            413: "Webhook body too large",
        }
        slug = {401: "invalid-signature", 400: "malformed-webhook", 413: "payload-too-large"}
        return Problem(status, slug[status], titles[status], reason)

    async def _verify(
        self, definition: ProviderDefinition, body: bytes, header: str | None, hint: int | None
    ) -> Verified:
        """Configured secrets first; then the own secret of the company the event routes to."""
        try:
            definition.verify(body, header, definition.configured_secrets(self.settings))
            return Verified(company_id=None)
        except SignatureError as error:
            if definition.company_secret_column is None:
                raise
            first_error = error
        try:
            payload = jsonfast.loads(body)
            routing = definition.parse(payload, body, header).routing
        except (ValueError, MalformedPayload):
            raise first_error from None
        if hint is not None:
            routing = Routing(company_id=hint, phone_numbers=routing.phone_numbers)
        async with self.runtime.database.sessions() as session:
            candidates = await repository.company_secret_candidates(
                session, routing, definition.company_secret_column
            )
        for company_id, encrypted in candidates:
            try:
                secrets = split_secrets(self._box.decrypt(encrypted))
                definition.verify(body, header, secrets)
            except (SignatureError, ValueError):
                continue
            return Verified(company_id=company_id)
        raise first_error

    def _headers(self, definition: ProviderDefinition, request: Request) -> dict[str, str]:
        """The headers kept as evidence (the provider's own and the signature), each cut to
        500 characters: one pass over the raw header list, names compared lower-case."""
        kept = definition.kept_header_names
        found: dict[str, str] = {}
        for raw_name, raw_value in request.scope["headers"]:
            name = raw_name.decode("latin-1").lower()
            if name in kept and name not in found:
                found[name] = raw_value.decode("latin-1")[:500]
        return found

    async def _admit(
        self, definition: ProviderDefinition, request: Request, started: float, limit: int
    ) -> tuple[bytes, Any, ParsedEvent, Verified]:
        """Read, verify and parse; raise the Problem to answer when the request fails."""
        provider = definition.name
        try:
            body = await read_body(request, limit)
        except BodyTooLarge:
            raise self._reject(
                provider, "too_large", 413, f"limit is {limit} bytes", started
            ) from None
        header = request.headers.get(definition.signature_header)
        company_param = request.query_params.get("company", "")
        hint = int(company_param) if company_param.isdigit() and len(company_param) < 12 else None
        try:
            verified = await self._verify(definition, body, header, hint)
        except SignatureError as error:
            raise self._reject(provider, "rejected_signature", 401, str(error), started) from None
        except Exception as error:  # the company-secret lookup could not reach the database
            raise self._unavailable(provider, "-", started, error) from error
        try:
            payload = parse_json(body)
            parsed = definition.parse(payload, body, header)
        except MalformedPayload as error:
            raise self._reject(provider, "malformed", 400, str(error), started) from None
        if hint is not None:  # the subscriber URL the operator configured wins over the body
            routing = Routing(company_id=hint, phone_numbers=parsed.routing.phone_numbers)
            parsed = dataclasses.replace(parsed, routing=routing)
        return body, payload, parsed, verified

    def _unavailable(
        self, provider: str, event_type: str, started: float, error: BaseException
    ) -> Problem:
        metrics.RECEIVED.labels(provider, event_type, "failed").inc()
        metrics.ACK_SECONDS.labels(provider, "failed").observe(time.perf_counter() - started)
        log.error("webhook.store_failed", provider=provider, error=type(error).__name__)
        return Problem(
            503,
            "webhook-store-unavailable",
            "Webhook could not be stored",
            "temporary failure; retry later",
            headers={"Retry-After": "5"},
        )

    # -- the routes' entry points --------------------------------------------------------

    async def ingest(self, definition: ProviderDefinition, request: Request) -> Response:
        started = time.perf_counter()
        provider = definition.name
        limit = definition.body_limit(self.settings)
        body, _payload, parsed, verified = await self._admit(definition, request, started, limit)
        correlation_id = current_correlation_id()
        try:
            event_id, outcome = await self._store(
                definition, request, body, parsed, verified, correlation_id
            )
        except Exception as error:
            raise self._unavailable(provider, parsed.event_type, started, error) from error
        metrics.RECEIVED.labels(provider, parsed.event_type, outcome).inc()
        metrics.ACK_SECONDS.labels(provider, outcome).observe(time.perf_counter() - started)
        log.info(
            "webhook.received",
            provider=provider,
            event_type=parsed.event_type,
            webhook_event_id=event_id,
            outcome=outcome,
        )
        if definition.empty_ack:
            return Response(status_code=204)
        return _json({"status": outcome, "event_id": event_id})

    async def _store(
        self,
        definition: ProviderDefinition,
        request: Request,
        body: bytes,
        parsed: ParsedEvent,
        verified: Verified,
        correlation_id: str | None,
    ) -> tuple[int | None, str]:
        headers = self._headers(definition, request)

        async def store_once() -> tuple[int | None, str]:
            # The insert and its job are ONE statement in autocommit, so it commits on its
            # own (one round trip, no BEGIN/COMMIT) and returns only once both are durable.
            async with self.runtime.database.driver_connection() as connection:
                event_id = await repository.insert_and_enqueue(
                    connection,
                    provider=definition.name,
                    parsed=parsed,
                    body=body,
                    headers=headers,
                    correlation_id=correlation_id,
                    verified_company_id=verified.company_id,
                    task_name=PROCESS_TASK,
                    queueing_lock_prefix=QUEUEING_LOCK_PREFIX,
                )
                if event_id is None:  # a new statement sees the row a concurrent delivery stored
                    existing = await repository.find_id(
                        connection, definition.name, parsed.dedup_key
                    )
                    return existing, "duplicate"
            return event_id, "accepted"

        # Pooled connections are not pinged: one the server dropped fails here and the store
        # runs again on a fresh one (a repeat of a stored event is answered as a duplicate).
        return await retry_on_dead_connection(store_once, name="webhooks.ingest")

    async def answer_inbound(self, definition: ProviderDefinition, request: Request) -> Response:
        """Retell's inbound-call webhook: answered synchronously, recorded as processed."""
        started = time.perf_counter()
        provider = definition.name
        limit = self.settings.max_webhook_bytes  # an inbound call carries no transcript
        body, payload, parsed, verified = await self._admit(definition, request, started, limit)
        if parsed.event_type != "call_inbound":
            raise self._reject(provider, "malformed", 400, "expected event call_inbound", started)
        correlation_id = current_correlation_id()
        headers = self._headers(definition, request)
        store: dict[str, Any] = {
            "provider": provider,
            "parsed": parsed,
            "body": body,
            "headers": headers,
            "correlation_id": correlation_id,
            "verified_company_id": verified.company_id,
        }
        try:
            answer = await self._answer_and_record(payload, store)
        except Exception as error:
            raise self._unavailable(provider, parsed.event_type, started, error) from error
        metrics.RECEIVED.labels(provider, parsed.event_type, "accepted").inc()
        metrics.ACK_SECONDS.labels(provider, "accepted").observe(time.perf_counter() - started)
        return _json(answer)

    async def _answer_and_record(self, payload: Any, store: dict[str, Any]) -> dict[str, Any]:
        database = self.runtime.database
        async with database.sessions() as session:
            try:
                answer = await inbound_responder()(session, payload)
                await repository.insert_event(session, status="processed", **store)
                await session.commit()
                return answer
            except Exception as error:
                await session.rollback()
                if _is_database_error(error):
                    raise
                log.exception("webhook.inbound_responder_failed")
                failure = f"{type(error).__name__}: {error}"[:2000]
        # The caller is still ringing: answer with the number's default agent, keep the evidence.
        async with database.sessions() as session:
            await repository.insert_event(session, status="failed", last_error=failure, **store)
            await session.commit()
        return EMPTY_INBOUND_ANSWER


def _json(content: Any) -> Response:
    return Response(jsonfast.dumps(content), media_type="application/json")


def _is_database_error(error: BaseException) -> bool:
    from sqlalchemy.exc import DBAPIError, InterfaceError, TimeoutError

    return isinstance(error, DBAPIError | InterfaceError | TimeoutError | OSError)
