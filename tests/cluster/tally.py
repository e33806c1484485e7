"""The fault suite's tally, printed as one summary line at the end of the run."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class FaultTally:
    faults_injected: int = 0
    events_acknowledged: int = 0
    events_processed: int = 0
    effects_duplicated: int = 0
    events_lost: int = 0

    def add(self, *, acknowledged: int, processed: int, duplicated: int, lost: int) -> None:
        self.events_acknowledged += acknowledged
        self.events_processed += processed
        self.effects_duplicated += duplicated
        self.events_lost += lost

    def line(self) -> str:
        return (
            f"cluster fault suite: faults injected {self.faults_injected}, events acknowledged "
            f"{self.events_acknowledged}, events processed {self.events_processed}, effects "
            f"duplicated {self.effects_duplicated}, events lost {self.events_lost}"
        )

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self)) + "\n")


TALLY = FaultTally()
