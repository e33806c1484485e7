"""The in-memory moving window: the limit holds over any ``expiry`` seconds, hits free up
as they age out, idle keys are dropped, and the answers match ``limits``' own storage."""

from __future__ import annotations

import random

import pytest
from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from askpro.kit import shared_state
from askpro.kit.shared_state import MovingWindowMemory


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(shared_state.time, "time", clock)  # the module `time`: limits' too
    return clock


async def test_it_answers_like_the_librarys_storage(clock: Clock) -> None:
    item = parse("3/10 seconds")
    ours = MovingWindowRateLimiter(MovingWindowMemory())
    theirs = MovingWindowRateLimiter(MemoryStorage())
    rng = random.Random(4)
    for step in [0, 1, 1, 1, 2, 5, 3, 0, 1, 9, 0.5, 11, 0] + [
        rng.choice([0, 0.25, 1, 2.5, 4, 10]) for _ in range(300)
    ]:
        clock.now += step
        assert await ours.hit(item, "k") == await theirs.hit(item, "k"), clock.now
        mine = await ours.get_window_stats(item, "k")
        expected = await theirs.get_window_stats(item, "k")
        assert (mine.reset_time, mine.remaining) == (expected.reset_time, expected.remaining)


async def test_a_full_window_frees_up_as_hits_age_out(clock: Clock) -> None:
    storage = MovingWindowMemory()
    assert [await storage.acquire_entry("k", 2, 60) for _ in range(3)] == [True, True, False]
    clock.now += 59
    assert not await storage.acquire_entry("k", 2, 60)
    clock.now += 2
    assert await storage.acquire_entry("k", 2, 60)
    assert await storage.get_moving_window("k", 2, 60) == (clock.now, 1)
    assert not await storage.acquire_entry("other", 2, 60, amount=3)


async def test_idle_keys_are_swept(clock: Clock) -> None:
    storage = MovingWindowMemory()
    for key in ("a", "b"):
        await storage.acquire_entry(key, 5, 10)
    clock.now += 11
    await storage.acquire_entry("c", 5, 10)
    assert set(storage._windows) == {"c"}
    await storage.clear("c")
    assert await storage.get_moving_window("c", 5, 10) == (clock.now, 0)
