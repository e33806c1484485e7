"""Handlers for the kill test, imported by a real ``askpro worker`` subprocess.

``test.slow`` Stripe events: the handler writes a marker file (so the test knows a job is
running, and where) and then sleeps, so the worker can be killed in the middle of it.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from askpro.models import WebhookEvent
from askpro.webhooks.registry import handles

MARKERS = Path(os.environ.get("ASKPRO_TEST_MARKER_DIR", "/tmp/askpro-markers"))
SLEEP_SECONDS = float(os.environ.get("ASKPRO_TEST_HANDLER_SLEEP", "2"))


@handles("stripe", "test.slow")
async def slow_handler(session: AsyncSession, event: WebhookEvent) -> None:
    (MARKERS / f"started-{event.id}-{os.getpid()}").touch()
    await asyncio.sleep(SLEEP_SECONDS)
    (MARKERS / f"finished-{event.id}-{os.getpid()}").touch()
