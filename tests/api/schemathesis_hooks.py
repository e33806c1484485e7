"""A check the fuzz test adds to schemathesis' own (loaded with ``hooks`` in its config).

Some rules no JSON Schema can state: a cursor must be one the list returned, a ``branch_id``
must name a branch of the company, a phone number must exist. The OpenAPI document lists
such fields per operation (``x-semantic-fields``), and schemathesis is told that those
operations may reject schema-valid data with 400/422. This check keeps that narrow: such a
rejection must be a problem whose every ``errors[].field`` is one the operation declares.
"""

from __future__ import annotations

from typing import Any

import schemathesis

SEMANTIC_FIELDS = "x-semantic-fields"
REJECTIONS = (400, 422)


@schemathesis.check
def semantic_rejection_names_a_declared_field(ctx: Any, response: Any, case: Any) -> None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return
    if response.status_code not in REJECTIONS:
        return
    declared = set(case.operation.definition.raw.get(SEMANTIC_FIELDS, []))
    try:
        body = response.json()
    except ValueError:
        body = None
    errors = body.get("errors") if isinstance(body, dict) else None
    fields = [error.get("field") for error in errors or [] if isinstance(error, dict)]
    undeclared = sorted({str(field) for field in fields} - declared)
    if not fields or undeclared:
        raise AssertionError(
            f"schema-valid request rejected with {response.status_code} naming "
            f"{undeclared or 'no field'} (declared semantic fields: {sorted(declared)}): "
            f"{response.text[:500]}"
        )
