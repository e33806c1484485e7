"""docs/outbound-events.md publishes exactly the payload schemas the code sends."""

from __future__ import annotations

import json
import re
from pathlib import Path

from askpro.outbound.schemas import PAYLOADS

DOC = Path(__file__).resolve().parents[2] / "docs" / "outbound-events.md"


def test_every_event_type_is_documented_with_its_json_schema() -> None:
    blocks = re.findall(r"### `([a-z_.]+)`\n\n```json\n(.*?)\n```", DOC.read_text(), flags=re.S)
    documented = {name: json.loads(body) for name, body in blocks}
    assert documented == {
        event_type.value: model.model_json_schema() for event_type, model in PAYLOADS.items()
    }
