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
    Decoder,
    MalformedPayload,
    ParsedEvent,
    ProviderDefinition,
    Routing,
    decode_json,
)
from askpro.webhooks.registry import inbound_responder
from askpro.webhooks.signatures import RawBody, SignatureError, split_secrets

log = get_logger(__name__)

PROCESS_TASK = "askpro.webhooks.process"
EMPTY_INBOUND_ANSWER: dict[str, Any] = {"call_inbound": {}}


class BodyTooLarge(Exception):
    pass


QUEUEING_LOCK_PREFIX = "webhook-event:"


def queueing_lock(event_id: int) -> str:
    """At most one waiting job per event (ingest, sweeper and replay all use it)."""
    return f"{QUEUEING_LOCK_PREFIX}{event_id}"


async def read_body(request: Request, limit: int) -> RawBody:
    """The raw body, refusing more than ``limit`` bytes without reading the rest.

    Held once: a body that came in one piece is that piece; one in several (a long Retell
    call's event, megabytes of transcript) is one ``bytearray`` they are appended to,
    returned as it is. Every consumer (the verifiers, the decoders, psycopg) takes any bytes
    buffer, and ``bytes(...)`` would copy it.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    first = b""
    joined: bytearray | None = None
    async for chunk in request.stream():
        if len(joined if joined is not None else first) + len(chunk) > limit:
            raise BodyTooLarge
        if joined is not None:
            joined += chunk
        elif not first:
            first = chunk
        elif chunk:
            joined = bytearray(first)
            joined += chunk
    return first if joined is None else joined


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
        self, definition: ProviderDefinition, body: RawBody, header: str | None, hint: int | None
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
            routing = definition.parse(definition.decode(body), body, header).routing
        except MalformedPayload:
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

    def _delivery(
        self,
        definition: ProviderDefinition,
        request: Request,
        body: RawBody,
        parsed: ParsedEvent,
        verified: Verified,
    ) -> repository.Delivery:
        return repository.Delivery(
            provider=definition.name,
            parsed=parsed,
            body=body,
            headers=self._headers(definition, request),
            correlation_id=current_correlation_id(),
            verified_company_id=verified.company_id,
        )

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
        self,
        definition: ProviderDefinition,
        request: Request,
        started: float,
        limit: int,
        decode: Decoder,
    ) -> tuple[RawBody, Any, ParsedEvent, Verified]:
        """Read, verify, decode (``decode``: what the caller needs of the body) and parse;
        raise the Problem to answer when the request fails."""
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
            payload = decode(body)
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
        body, _payload, parsed, verified = await self._admit(
            definition, request, started, limit, definition.decode
        )
        try:
            event_id, outcome = await self._store(
                self._delivery(definition, request, body, parsed, verified)
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

    async def _store(self, delivery: repository.Delivery) -> tuple[int | None, str]:
        async def store_once() -> tuple[int | None, str]:
            # The insert and its job are ONE statement in autocommit, so it commits on its
            # own (one round trip, no BEGIN/COMMIT) and returns only once both are durable.
            async with self.runtime.database.driver_connection() as connection:
                event_id = await repository.insert_and_enqueue(
                    connection,
                    delivery,
                    task_name=PROCESS_TASK,
                    queueing_lock_prefix=QUEUEING_LOCK_PREFIX,
                )
                if event_id is None:  # a new statement sees the row a concurrent delivery stored
                    existing = await repository.find_id(
                        connection, delivery.provider, delivery.parsed.dedup_key
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
        # The responder reads the whole (small) event: decoded in full.
        body, payload, parsed, verified = await self._admit(
            definition, request, started, limit, decode_json
        )
        if parsed.event_type != "call_inbound":
            raise self._reject(provider, "malformed", 400, "expected event call_inbound", started)
        delivery = self._delivery(definition, request, body, parsed, verified)
        try:
            answer = await self._answer_and_record(payload, delivery)
        except Exception as error:
            raise self._unavailable(provider, parsed.event_type, started, error) from error
        metrics.RECEIVED.labels(provider, parsed.event_type, "accepted").inc()
        metrics.ACK_SECONDS.labels(provider, "accepted").observe(time.perf_counter() - started)
        return _json(answer)

    async def _answer_and_record(
        self, payload: Any, delivery: repository.Delivery
    ) -> dict[str, Any]:
        """Build the answer from autocommit reads, then record the event in one statement.

        The answer only reads, so it needs no transaction (no BEGIN/COMMIT round trips);
        the record is one autocommit INSERT. Both run once more on a fresh connection when
        the pooled one turns out dead, which repeats nothing (reads; a duplicate insert is
        ignored by the unique key).
        """
        database = self.runtime.database

        async def answer() -> dict[str, Any]:
            async with database.autocommit_sessions() as session:
                return await inbound_responder()(session, payload)

        try:
            built = await retry_on_dead_connection(answer, name="webhooks.inbound_answer")
            status, failure = "processed", None
        except Exception as error:
            if _is_database_error(error):
                raise
            log.exception("webhook.inbound_responder_failed")
            # The caller is still ringing: the number's default agent answers; keep evidence.
            built, status = EMPTY_INBOUND_ANSWER, "failed"
            failure = f"{type(error).__name__}: {error}"[:2000]

        async def record() -> None:
            async with database.driver_connection() as connection:
                await repository.insert_answered(
                    connection, delivery, status=status, last_error=failure
                )

        await retry_on_dead_connection(record, name="webhooks.inbound_record")
        return built


def _json(content: Any) -> Response:
    return Response(jsonfast.dumps(content), media_type="application/json")


def _is_database_error(error: BaseException) -> bool:
    from sqlalchemy.exc import DBAPIError, InterfaceError, TimeoutError

    return isinstance(error, DBAPIError | InterfaceError | TimeoutError | OSError)
