"""Per-provider body limits: a long call's Retell events are accepted (several MiB of
word-level transcript, sent twice), held in memory once, stored byte for byte; the other
providers keep ``ASKPRO_MAX_WEBHOOK_BYTES``."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import AsyncIterator

import httpx

from askpro.db import Database
from askpro.runtime import Runtime
from tests.fixtures.webhooks import (
    PATHS,
    calcom_event,
    deliver,
    events,
    retell_event,
    running_worker,
    signature_headers,
    stripe_event,
    wait_for_status,
)

MIB = 1024 * 1024
SPOKEN = ("could", "we", "move", "my", "haircut", "to", "thursday", "afternoon", "please")


def _long_call_transcript(minimum_bytes: int) -> list[dict[str, object]]:
    """A word-level transcript (Retell's ``transcript_object``) of at least ``minimum_bytes``."""
    utterances: list[dict[str, object]] = []
    size, second = 0, 0.0
    while size < minimum_bytes:
        role = "agent" if len(utterances) % 2 == 0 else "user"
        words = [
            {
                "word": word,
                "start": round(second + i * 0.3, 2),
                "end": round(second + i * 0.3 + 0.25, 2),
            }
            for i, word in enumerate(SPOKEN)
        ]
        second += 3.0
        utterance = {
            "role": role,
            "content": " ".join(str(w["word"]) for w in words),
            "words": words,
        }
        utterances.append(utterance)
        size += len(json.dumps(utterance))
    return utterances


def _long_call_ended(call_id: str, minimum_bytes: int) -> bytes:
    transcript = _long_call_transcript(minimum_bytes // 2)
    return retell_event(
        call_id=call_id,
        transcript_object=transcript,
        transcript_with_tool_calls=transcript,  # Retell sends the words twice
    )


async def test_a_retell_call_ended_over_one_mebibyte_is_accepted_and_processed(
    client: httpx.AsyncClient, database: Database, runtime: Runtime
) -> None:
    body = _long_call_ended("call_long_transcript", 2 * runtime.settings.max_webhook_bytes + MIB)
    assert len(body) > 2 * runtime.settings.max_webhook_bytes
    response = await deliver(client, "retell", body)
    assert response.status_code == 204
    [event] = await events(database)
    assert event.event_type == "call_ended"
    assert event.body == body
    async with running_worker():
        processed = await wait_for_status(database, event.id, {"processed"})
    assert processed.attempts == 1


async def test_a_sixteen_mebibyte_retell_event_is_held_once_and_never_decoded_in_full(
    client: httpx.AsyncClient, database: Database
) -> None:
    """Python's allocations while the request is served, sent in 64 KiB pieces as a server
    receives it: the one buffer the pieces are joined in, plus the copy psycopg's dumper
    makes of a ``bytea`` parameter to send it; no third copy, and no object tree of the
    transcripts (a full JSON decode of this body takes about 18 times its size)."""
    body = _long_call_ended("call_sixteen_mebibytes", 16 * MIB)
    assert len(body) >= 16 * MIB
    headers = {"content-type": "application/json", **signature_headers("retell", body)}

    async def pieces() -> AsyncIterator[bytes]:
        view = memoryview(body)
        for offset in range(0, len(body), 65536):
            yield bytes(view[offset : offset + 65536])

    tracemalloc.start()
    try:
        response = await client.post(PATHS["retell"], content=pieces(), headers=headers)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 204
    assert peak < 2.5 * len(body), f"peak {peak / MIB:.1f} MiB for a {len(body) / MIB:.1f} MiB body"
    [event] = await events(database)
    assert (event.event_type, event.body) == ("call_ended", body)


async def test_other_providers_keep_the_one_mebibyte_limit(
    client: httpx.AsyncClient, database: Database, runtime: Runtime
) -> None:
    padding = b" " * runtime.settings.max_webhook_bytes
    for provider, body in (("stripe", stripe_event()), ("calcom", calcom_event())):
        response = await deliver(client, provider, body + padding)
        assert response.status_code == 413, provider
    assert await events(database) == []
