"""The stand-in's failure knobs and the log of the requests it received."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Faults:
    """Knobs for failure modes; counters apply to the next N requests whose path starts
    with ``path_prefix``."""

    latency_seconds: float = 0.0
    errors: int = 0
    error_status: int = 500
    timeouts: int = 0
    timeout_seconds: float = 30.0
    malformed: int = 0
    # Process the request, then answer 502 as if the response was lost on the way back.
    lost_responses: int = 0
    # Process the request, then answer 200 with a body that is not JSON.
    garbled_responses: int = 0
    rate_limited: int = 0
    rate_limit_reset_seconds: int = 2
    down: bool = False
    # GET /v2/bookings always answers hasNextPage: true.
    endless_pages: bool = False
    # GET /v2/bookings ignores ``skip`` (every page is the first one).
    ignore_skip: bool = False
    path_prefix: str = "/v2/"


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    api_version: str | None
    body: Any
