"""The serving processes' heap, settled once start-up is over.

After start-up a process holds a few hundred thousand long-lived objects (the route table,
pydantic and SQLAlchemy's compiled models, the OpenAPI document, the demo's stand-in data).
CPython's full (generation 2) collection walks all of them: about 100 ms on this project's
2-core machine, run every few seconds under load, during which no request is answered. It
was the whole tail of the phone agent's latency (p50 2 ms, max 140 ms).

:func:`freeze_startup_heap` collects once and moves every surviving object to the permanent
generation (:func:`gc.freeze`): full collections then walk only what was allocated since.
Objects frozen here are never freed, which is right for start-up state that lives as long as
the process; it is called by ``askpro serve`` and ``askpro worker`` only, never by code that
builds apps repeatedly (the tests).
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> int:
    """Collect, then freeze what survived; returns the number of objects frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
