"""The tool schemas in docs/booking.md are the ones the code accepts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from pydantic import ValidationError

from askpro.integrations.retell.schemas import RETELL_TOOLS
from askpro.integrations.retell.tools import TOOLS

DOC = Path(__file__).resolve().parents[3] / "docs" / "booking.md"


def _documented() -> dict[str, dict]:
    text = DOC.read_text()
    blocks = re.findall(r"### `(\w+)`\n\n.*?\n\n```json\n(.*?)\n```", text, flags=re.S)
    return {name: json.loads(body) for name, body in blocks}


def test_docs_show_exactly_the_tool_schemas() -> None:
    documented = _documented()
    assert documented == {tool["name"]: tool["parameters"] for tool in RETELL_TOOLS}


def test_every_tool_in_the_table_is_configured_on_the_agent() -> None:
    assert [tool["name"] for tool in RETELL_TOOLS] == list(TOOLS)


@pytest.mark.parametrize("tool", RETELL_TOOLS, ids=lambda tool: tool["name"])
def test_schema_and_model_agree(tool: dict) -> None:
    schema = tool["parameters"]
    jsonschema.Draft202012Validator.check_schema(schema)
    model = TOOLS[tool["name"]].args
    assert set(schema["properties"]) == set(model.model_fields)
    required = {name for name, field in model.model_fields.items() if field.is_required()}
    assert set(schema["required"]) == required
    example = {
        "service": "Haircut", "date": "2026-12-02", "time": "10:00", "new_date": "2026-12-02",
        "new_time": "11:00", "appointment_id": 3, "part_of_day": "morning",
        "message": "Please call me back about my colour appointment.",
    }  # fmt: skip
    minimal = {name: example[name] for name in schema["required"]}
    jsonschema.validate(minimal, schema)
    model.model_validate(minimal)
    if schema["required"]:
        with pytest.raises(ValidationError):
            model.model_validate({})
