"""The providers' pure parts: Retell's head decoder reads what a full decode would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from askpro.webhooks.providers import (
    MalformedPayload,
    ParsedEvent,
    decode_json,
    decode_retell_head,
    parse_retell,
)
from askpro.webhooks.signatures import sign_retell

SHIPPED = Path(__file__).resolve().parents[2] / "src" / "askpro" / "webhooks" / "samples"
RETELL_SAMPLES = sorted((SHIPPED / "retell").glob("*.json"))
SHAPES = [
    b'{"event": "call_ended", "call": "not an object"}',
    b'{"event": "call_ended", "call": null}',
    b'{"event": "call_ended", "call": {"call_id": 42}}',
    b'{"event": 7, "call": {"call_id": "c1"}}',
    b'{"event": "call_started", "data": {"call_id": "c2", "to_number": "+4930123"}}',
    b'{"event": "call_inbound", "call_inbound": "no"}',
    b'{"event": "chat_ended", "chat": {"chat_id": 1}}',
    b'["a list"]',
    b"not json",
    b'{"event": "call_ended", "call": {"call_id": "c3", "start_timestamp": 1e400}}',
    b'{"event": "call_ended", "call": {"call_id": "c4", "end_timestamp": 36893488147419103232}}',
]


def _outcome(body: bytes, decode: object) -> ParsedEvent | str:
    header = sign_retell(body, "key", timestamp_ms=1_700_000_000_000)
    try:
        return parse_retell(decode(body), body, header)  # type: ignore[operator]
    except MalformedPayload as error:
        return f"malformed: {error}"


def test_the_shipped_retell_samples_are_there() -> None:
    assert len(RETELL_SAMPLES) >= 4


@pytest.mark.parametrize("path", RETELL_SAMPLES, ids=lambda path: path.name)
def test_the_head_of_each_retell_sample_parses_as_its_full_decode(path: Path) -> None:
    body = path.read_bytes()
    assert _outcome(body, decode_retell_head) == _outcome(body, decode_json)


@pytest.mark.parametrize("body", SHAPES)
def test_an_unexpected_retell_shape_gets_the_answer_a_full_decode_gives(body: bytes) -> None:
    assert _outcome(body, decode_retell_head) == _outcome(body, decode_json)


def test_the_head_leaves_the_transcripts_out() -> None:
    event = {"event": "call_ended", "call": {"call_id": "c5", "transcript_object": [1, 2]}}
    head = decode_retell_head(json.dumps(event).encode())
    assert head == {"event": "call_ended", "call": {"call_id": "c5"}}
