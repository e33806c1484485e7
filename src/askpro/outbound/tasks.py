"""Outbound jobs: every second, deliver what is due (several workers share the work)."""

from __future__ import annotations

from askpro import worker
from askpro.outbound import delivery
from askpro.runtime import get_runtime

DISPATCH_TASK = "askpro.outbound.dispatch"
# One run stops after this long; the next tick (one second later) carries on.
RUN_SECONDS = 20.0


@worker.task(DISPATCH_TASK)
async def dispatch(timestamp: int) -> int:
    """Fan out new events and send every due delivery; the number of attempts made."""
    return await delivery.run_until_idle(get_runtime(), max_seconds=RUN_SECONDS)


worker.periodic(cron="* * * * * *", periodic_id="outbound_dispatch")(dispatch)
