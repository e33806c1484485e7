"""JSON on the hot paths: orjson, with the standard library behind it for what orjson refuses.

orjson parses and serialises several times faster than :mod:`json` (a webhook body is
parsed on every delivery, a page of 50 rows serialised on every list request). It is
stricter: integers beyond 64 bits and ``NaN``/``Infinity`` are errors there but valid for
:mod:`json`. A body orjson refuses is parsed once more by :mod:`json`, so a provider's
event is never rejected for orjson's sake; only bodies that fail both are invalid.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Parse JSON; raises :class:`ValueError` (as :func:`json.loads` does) when invalid."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(bytes(data) if isinstance(data, memoryview) else data)


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON; values orjson does not know are written as their ``str()``."""
    return orjson.dumps(value, default=str)
