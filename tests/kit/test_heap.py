"""Freezing the start-up heap takes what survived start-up out of the full collections."""

from __future__ import annotations

import gc

from askpro.kit.heap import freeze_startup_heap


def test_objects_alive_at_freezing_are_no_longer_walked_by_a_full_collection() -> None:
    survivor = {"start-up": ["state"]}
    gc.collect()
    assert any(item is survivor for item in gc.get_objects(generation=2))
    try:
        frozen = freeze_startup_heap()
        assert frozen > 0
        assert not any(item is survivor for item in gc.get_objects(generation=2))
        created_after = {"per-request": ["state"]}
        gc.collect()
        assert any(item is created_after for item in gc.get_objects(generation=2))
    finally:
        gc.unfreeze()
