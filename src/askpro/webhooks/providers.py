"""Provider definitions: how each provider signs, names, deduplicates and orders its events.

A definition is data plus small pure functions; :class:`askpro.webhooks.ingest.WebhookProcessor`
runs every provider through the same path (verify → store → acknowledge → process).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypedDict

import msgspec

from askpro.config import Settings
from askpro.kit import jsonfast
from askpro.kit.time import parse_instant
from askpro.webhooks import signatures
from askpro.webhooks.signatures import RawBody

MAX_DEDUP_KEY = 300
MAX_ENTITY_KEY = 200
MAX_EVENT_TYPE = 100


class MalformedPayload(ValueError):
    """The (verified) body is not an event of this provider; answered 400."""


@dataclass(frozen=True)
class Routing:
    """Hints for the company an event belongs to (resolved against the database)."""

    company_id: int | None = None
    phone_numbers: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParsedEvent:
    event_type: str
    dedup_key: str
    entity_key: str | None
    occurred_at: dt.datetime | None
    routing: Routing = field(default_factory=Routing)


class RetryOrdering(StrEnum):
    """What an event waiting to retry does to the later events of its entity.

    Either way, at most one event of an entity is processed at a time.
    """

    # Later events wait for it: they build on it (a Retell call's events, a Cal.com booking's).
    HOLDS_ENTITY = "holds_entity"
    # Later events go ahead: each carries the whole object, and the provider promises no
    # order anyway (Stripe), so its handlers already compare what they hold with what came.
    STEPS_ASIDE = "steps_aside"


Verifier = Callable[[RawBody, str | None, Sequence[str]], None]
Decoder = Callable[[RawBody], Any]
Parser = Callable[[Any, RawBody, str | None], ParsedEvent]


def decode_json(body: RawBody) -> Any:
    """The whole body as JSON (``MalformedPayload`` when it is not JSON)."""
    try:
        return jsonfast.loads(body)
    except ValueError as error:  # includes UnicodeDecodeError
        raise MalformedPayload(f"the body is not valid JSON: {error}") from None


@dataclass(frozen=True)
class ProviderDefinition:
    name: str
    signature_header: str
    verify: Verifier
    configured_secrets: Callable[[Settings], list[str]]
    parse: Parser
    # Company column holding the company's own (encrypted) secret, tried for routed events.
    company_secret_column: str | None
    # 204 without a body (Retell) or 200 {"status", "event_id"} (Cal.com, Stripe).
    empty_ack: bool
    kept_headers: tuple[str, ...] = ("content-type", "user-agent", "x-request-id")
    # The largest body accepted (413 past it): ASKPRO_MAX_WEBHOOK_BYTES unless the
    # provider's events are known to be larger.
    body_limit: Callable[[Settings], int] = lambda settings: settings.max_webhook_bytes
    retry_ordering: RetryOrdering = RetryOrdering.HOLDS_ENTITY
    # What ingest decodes of a body for ``parse``: the whole JSON unless the provider's
    # events are large and ``parse`` reads only a few fields of them.
    decode: Decoder = decode_json

    @functools.cached_property
    def kept_header_names(self) -> frozenset[str]:
        """The headers stored with an event as evidence (lower case): kept ones + signature."""
        return frozenset(name.lower() for name in (*self.kept_headers, self.signature_header))


def body_digest(body: RawBody) -> str:
    return hashlib.sha256(body).hexdigest()


def _bounded(key: str, limit: int) -> str:
    """Keys longer than the column keep a readable prefix and a digest of the whole."""
    if len(key) <= limit:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return key[: limit - 65] + ":" + digest


def _secret(value: Any) -> list[str]:
    return signatures.split_secrets(value.get_secret_value() if value is not None else None)


def _require_object(payload: Any) -> Mapping[str, Any]:
    if not isinstance(payload, dict):
        raise MalformedPayload("the body is not a JSON object")
    return payload


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MalformedPayload(f"`{name}` is missing or not a string")
    return value.strip()


def _from_epoch_ms(value: Any) -> dt.datetime | None:
    """A positive epoch-milliseconds number as an instant; None for anything else, an
    instant past the calendar's range (``1e400``, a 65-bit integer) included."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        try:
            return dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)
        except (OverflowError, ValueError, OSError):
            return None
    return None


def _company_id(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value > 0 else None
    if isinstance(value, str) and value.isdigit() and len(value) < 12:
        return int(value)
    return None


# --- Retell: {"event", "call": {...}}; no event id, so (event, call_id) ---------------------
# Chat agents post to the same URL: {"event": "chat_*", "chat": {"chat_id", …}} (PROTOCOLS.md
# §3.2). askpro has no chat feature: they are stored, keyed (event, chat_id), and end ignored.


class _RetellCallHead(TypedDict, total=False):
    call_id: Any
    direction: Any
    from_number: Any
    to_number: Any
    start_timestamp: Any
    end_timestamp: Any


class _RetellChatHead(TypedDict, total=False):
    chat_id: Any
    start_timestamp: Any
    end_timestamp: Any


class _RetellHead(TypedDict, total=False):
    """What :func:`parse_retell` reads of an event: every other field (the transcripts of a
    long call, megabytes of them) is skipped by the decoder without becoming objects."""

    event: Any
    event_timestamp: Any
    call_inbound: Any
    call: _RetellCallHead
    data: _RetellCallHead
    chat: _RetellChatHead


_RETELL_HEAD = msgspec.json.Decoder(_RetellHead)


def decode_retell_head(body: RawBody) -> Any:
    """The fields :func:`parse_retell` reads, as the plain dicts a full decode gives.

    A full decode of a 16 MiB ``call_ended`` builds about 290 MiB of objects for its
    word-level transcripts; this one a few hundred bytes. A body that is not of the expected
    shape (or not JSON) takes the full decode, so the answer (and its message) is the same.
    """
    try:
        return _RETELL_HEAD.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return decode_json(body)


RETELL_END_EVENTS = frozenset(
    {"call_ended", "call_analyzed", "transfer_ended", "chat_ended", "chat_analyzed"}
)
RETELL_CHAT_EVENT_PREFIX = "chat_"


def retell_signature_timestamp(header: str | None) -> dt.datetime | None:
    if header and header.startswith("v="):
        stamp = header[2:].split(",", 1)[0]
        if stamp.isdigit():
            return _from_epoch_ms(int(stamp))
    return None


def parse_retell(payload: Any, body: RawBody, header: str | None) -> ParsedEvent:
    event = _require_object(payload)
    event_type = _text(event.get("event"), "event")[:MAX_EVENT_TYPE]
    if event_type == "call_inbound":
        inbound = event.get("call_inbound")
        if not isinstance(inbound, dict):
            raise MalformedPayload("`call_inbound` is missing or not an object")
        # No call exists yet; each signed request (Retell retries re-sign) is its own row.
        signed_at = (header or "").split(",", 1)[0]
        key = f"call_inbound:{body_digest(body + signed_at.encode())}"
        to_number = inbound.get("to_number")
        numbers: tuple[str, ...] = (to_number,) if isinstance(to_number, str) else ()
        return ParsedEvent(
            event_type=event_type,
            dedup_key=key,
            entity_key=None,
            occurred_at=_from_epoch_ms(event.get("event_timestamp"))
            or retell_signature_timestamp(header),
            routing=Routing(phone_numbers=numbers),
        )
    if event_type.startswith(RETELL_CHAT_EVENT_PREFIX):
        return _parse_retell_chat(event, event_type, header)
    call = event.get("call", event.get("data"))  # `data` is Retell's deprecated name
    if not isinstance(call, dict):
        raise MalformedPayload("`call` is missing or not an object")
    call_id = _text(call.get("call_id"), "call.call_id")
    key = f"{event_type}:{call_id}"
    if event_type == "transcript_updated":  # fires many times per call: each update is new
        key += ":" + body_digest(body)[:32]
    stamp_field = "end_timestamp" if event_type in RETELL_END_EVENTS else "start_timestamp"
    occurred_at = (
        _from_epoch_ms(call.get(stamp_field))
        or _from_epoch_ms(call.get("start_timestamp"))
        or retell_signature_timestamp(header)
    )
    own_number = call.get("from_number" if call.get("direction") == "outbound" else "to_number")
    numbers = tuple(n for n in (own_number,) if isinstance(n, str))
    return ParsedEvent(
        event_type=event_type,
        dedup_key=_bounded(key, MAX_DEDUP_KEY),
        entity_key=_bounded(f"retell:call:{call_id}", MAX_ENTITY_KEY),
        occurred_at=occurred_at,
        routing=Routing(phone_numbers=numbers),
    )


def _parse_retell_chat(
    event: Mapping[str, Any], event_type: str, header: str | None
) -> ParsedEvent:
    chat = event.get("chat")
    if not isinstance(chat, dict):
        raise MalformedPayload("`chat` is missing or not an object")
    chat_id = _text(chat.get("chat_id"), "chat.chat_id")
    stamp_field = "end_timestamp" if event_type in RETELL_END_EVENTS else "start_timestamp"
    return ParsedEvent(
        event_type=event_type,
        dedup_key=_bounded(f"{event_type}:{chat_id}", MAX_DEDUP_KEY),
        entity_key=_bounded(f"retell:chat:{chat_id}", MAX_ENTITY_KEY),
        occurred_at=_from_epoch_ms(chat.get(stamp_field))
        or _from_epoch_ms(chat.get("start_timestamp"))
        or retell_signature_timestamp(header),
    )


# --- Cal.com: {"triggerEvent", "createdAt", "payload": {...}}; no event id -------------------


def parse_calcom(payload: Any, body: RawBody, header: str | None) -> ParsedEvent:
    event = _require_object(payload)
    event_type = _text(event.get("triggerEvent"), "triggerEvent")[:MAX_EVENT_TYPE]
    data = event.get("payload")
    data = data if isinstance(data, dict) else {}
    booking_uid = data.get("uid") or data.get("bookingUid")
    created_at = event.get("createdAt")
    if isinstance(booking_uid, str) and booking_uid and isinstance(created_at, str):
        key = f"{event_type}:{booking_uid}:{created_at}"
    else:  # PING and other events without a booking: the body itself is the identity
        key = f"{event_type}:sha256:{body_digest(body)}"
    entity = (
        f"calcom:booking:{booking_uid}" if isinstance(booking_uid, str) and booking_uid else None
    )
    metadata = data.get("metadata")
    company_hint = metadata.get("askpro_company_id") if isinstance(metadata, dict) else None
    return ParsedEvent(
        event_type=event_type,
        dedup_key=_bounded(key, MAX_DEDUP_KEY),
        entity_key=_bounded(entity, MAX_ENTITY_KEY) if entity else None,
        occurred_at=parse_instant(created_at),
        routing=Routing(company_id=_company_id(company_hint)),
    )


# --- Stripe: the Event object; dedup on evt_ id, order per data.object.id ------------------


def parse_stripe(payload: Any, body: RawBody, header: str | None) -> ParsedEvent:
    event = _require_object(payload)
    event_id = _text(event.get("id"), "id")
    event_type = _text(event.get("type"), "type")[:MAX_EVENT_TYPE]
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    obj = obj if isinstance(obj, dict) else {}
    object_id = obj.get("id")
    created = event.get("created")
    occurred_at = (
        dt.datetime.fromtimestamp(created, tz=dt.UTC)
        if isinstance(created, int) and not isinstance(created, bool) and created > 0
        else None
    )
    metadata = obj.get("metadata")
    company_hint = metadata.get("company_id") if isinstance(metadata, dict) else None
    company_hint = company_hint or obj.get("client_reference_id")
    return ParsedEvent(
        event_type=event_type,
        dedup_key=_bounded(event_id, MAX_DEDUP_KEY),
        entity_key=(
            _bounded(f"stripe:{object_id}", MAX_ENTITY_KEY)
            if isinstance(object_id, str) and object_id
            else None
        ),
        occurred_at=occurred_at,
        routing=Routing(company_id=_company_id(company_hint)),
    )


RETELL = ProviderDefinition(
    name="retell",
    signature_header="x-retell-signature",
    verify=signatures.verify_retell,
    configured_secrets=lambda settings: _secret(settings.retell_api_key),
    parse=parse_retell,
    company_secret_column="retell_api_key_encrypted",  # noqa: S106 - a column name
    empty_ack=True,
    # call_ended / call_analyzed of a long call carry word-level transcripts, twice.
    body_limit=lambda settings: settings.max_retell_webhook_bytes,
    decode=decode_retell_head,
)
CALCOM = ProviderDefinition(
    name="calcom",
    signature_header="x-cal-signature-256",
    verify=signatures.verify_calcom,
    configured_secrets=lambda settings: _secret(settings.calcom_webhook_secret),
    parse=parse_calcom,
    company_secret_column="calcom_webhook_secret_encrypted",  # noqa: S106
    empty_ack=False,
    kept_headers=("content-type", "user-agent", "x-request-id", "x-cal-webhook-version"),
)
STRIPE = ProviderDefinition(
    name="stripe",
    signature_header="stripe-signature",
    verify=signatures.verify_stripe,
    configured_secrets=lambda settings: _secret(settings.stripe_webhook_secret),
    parse=parse_stripe,
    company_secret_column=None,  # askpro's own Stripe account bills every company
    empty_ack=False,
    retry_ordering=RetryOrdering.STEPS_ASIDE,
)

PROVIDERS: dict[str, ProviderDefinition] = {p.name: p for p in (RETELL, CALCOM, STRIPE)}


def get_provider(name: str) -> ProviderDefinition:
    try:
        return PROVIDERS[name]
    except KeyError:
        raise KeyError(f"unknown webhook provider {name!r}; known: {sorted(PROVIDERS)}") from None
