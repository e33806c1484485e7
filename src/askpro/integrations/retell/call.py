"""The one typed view of Retell's call object that calls, billing and the tools read.

Retell names numbers from the line's point of view: ``from_number`` is the caller on an
inbound call and the business on an outbound one. :class:`RetellCall` holds that rule once:
``our_number`` is always the company's number, ``caller_number`` the other party's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class RetellCall:
    call_id: str | None
    direction: Direction
    from_number: str | None
    to_number: str | None
    agent_id: str | None
    duration_ms: int | None
    start_timestamp_ms: int | None
    end_timestamp_ms: int | None

    @classmethod
    def from_payload(cls, call: Mapping[str, Any] | None) -> RetellCall:
        call = call or {}
        raw_id = call.get("call_id")
        return cls(
            call_id=str(raw_id) if raw_id else None,
            direction=Direction.OUTBOUND
            if call.get("direction") == Direction.OUTBOUND
            else Direction.INBOUND,
            from_number=_text(call.get("from_number")),
            to_number=_text(call.get("to_number")),
            agent_id=_text(call.get("agent_id")),
            duration_ms=_number(call.get("duration_ms")),
            start_timestamp_ms=_number(call.get("start_timestamp")),
            end_timestamp_ms=_number(call.get("end_timestamp")),
        )

    @property
    def our_number(self) -> str | None:
        """The company's number: the dialled one inbound, the caller id outbound."""
        return self.from_number if self.direction is Direction.OUTBOUND else self.to_number

    @property
    def caller_number(self) -> str | None:
        """The other party's number (the customer's)."""
        return self.to_number if self.direction is Direction.OUTBOUND else self.from_number

    @property
    def billable_ms(self) -> int:
        """``duration_ms``, else end minus start (epoch ms), else 0."""
        if self.duration_ms is not None and self.duration_ms >= 0:
            return self.duration_ms
        start, end = self.start_timestamp_ms, self.end_timestamp_ms
        if start is not None and end is not None and end > start:
            return end - start
        return 0
