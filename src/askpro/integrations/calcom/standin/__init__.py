"""A Cal.com API v2 stand-in: per-user calendars, team round-robin, real semantics, knobs
for failures.

Used by ``askpro serve`` in demo mode (mounted at ``/_calcom``, its bookings kept in
``<data dir>/calcom-standin.json`` across restarts), by the tests over real HTTP and by the
benchmarks. Its responses follow ``calcom-v2-openapi.json``.
"""

from pathlib import Path

from askpro.integrations.calcom.standin.app import create_standin_app
from askpro.integrations.calcom.standin.state import (
    STANDIN_API_KEY,
    Faults,
    StandinEventType,
    StandinSchedule,
    StandinState,
    StandinUser,
)


def persistent_state(data_dir: Path) -> StandinState:
    """The demo stand-in's state, kept in ``data_dir/calcom-standin.json``."""
    return StandinState(persist_path=data_dir.resolve() / "calcom-standin.json")


__all__ = [
    "STANDIN_API_KEY",
    "Faults",
    "StandinEventType",
    "StandinSchedule",
    "StandinState",
    "StandinUser",
    "create_standin_app",
    "persistent_state",
]
