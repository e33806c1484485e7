"""A Cal.com API v2 stand-in: in-memory state, real semantics, knobs for failures.

Used by ``askpro serve`` in demo mode (mounted at ``/_calcom``), by the tests over real HTTP
and by the benchmarks. Its responses follow ``calcom-v2-openapi.json``.
"""

from askpro.integrations.calcom.standin.app import create_standin_app
from askpro.integrations.calcom.standin.state import (
    STANDIN_API_KEY,
    Faults,
    StandinEventType,
    StandinSchedule,
    StandinState,
)

__all__ = [
    "STANDIN_API_KEY",
    "Faults",
    "StandinEventType",
    "StandinSchedule",
    "StandinState",
    "create_standin_app",
]
