"""What the fault tests share: waiting, delivering top-ups like Stripe, counting effects."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable

from tests.cluster.conftest import query, scalar
from tests.cluster.tally import TALLY
from tests.cluster.traffic import Spreader, topup_body

SMALL_POOLS = {"database_pool_size": "3", "calcom_breaker_reset_seconds": "3"}


async def wait_until(condition: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < deadline, f"not reached within {within:g} s: {what}"
        await asyncio.sleep(0.5)


async def deliver_topups(
    spreader: Spreader, company_id: int, intents: list[str], *, pace: float, retries: int = 8
) -> tuple[set[str], Counter[int]]:
    """Send each top-up until some process acknowledges it (as Stripe retries a failure)."""
    acknowledged: set[str] = set()
    statuses: Counter[int] = Counter()
    for intent in intents:
        body = topup_body(company_id, intent)
        for attempt in range(retries):
            status = await spreader.stripe(body)
            statuses[status] += 1
            if status == 200:
                acknowledged.add(intent)
                break
            await asyncio.sleep(0.2 * (attempt + 1))
        await asyncio.sleep(pace)
    return acknowledged, statuses


async def settle_and_count(url: str, intents: set[str], within: float = 150) -> None:
    """Wait until every stored event is processed; tally effects; assert nothing is lost."""

    async def all_processed() -> bool:
        waiting = await scalar(
            url, "SELECT count(*) FROM webhook_events WHERE status NOT IN ('processed', 'ignored')"
        )
        return bool(waiting == 0)

    await wait_until(all_processed, within, "every stored event processed")
    rows = await query(
        url,
        "SELECT e.dedup_key, e.status, (SELECT count(*) FROM ledger_entries l "
        " WHERE l.kind = 'topup' AND 'evt_' || l.external_reference = e.dedup_key) "
        "FROM webhook_events e WHERE e.provider = 'stripe'",
    )
    effects = {key.removeprefix("evt_"): count for key, _, count in rows}
    processed = sum(status == "processed" for _, status, _ in rows)
    duplicated = sum(max(count - 1, 0) for count in effects.values())
    lost = sum(1 for intent in intents if effects.get(intent, 0) != 1)
    TALLY.add(acknowledged=len(intents), processed=processed, duplicated=duplicated, lost=lost)
    assert duplicated == 0
    assert lost == 0, "an acknowledged top-up was not credited exactly once"
