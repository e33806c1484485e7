"""The audit log: recorded by a middleware, written in batches off the request path.

Every write request (POST/PUT/PATCH/DELETE) under ``/api/`` or ``/dashboard/`` and every failed
authentication or authorisation (401/403) is one ``audit_logs`` row. The middleware only
appends to an in-process queue after the response is complete; a background task inserts
the queue in batches (every ``interval`` seconds or ``batch_size`` rows). A failed insert is
retried with backoff and nothing is dropped; ``close()`` (app shutdown) flushes what is
left. What is not covered: a process killed with SIGKILL loses at most its unflushed
queue (one interval's worth).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter, Gauge
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from askpro.auth import repository
from askpro.db import Database
from askpro.models.audit import AUDIT_KINDS
from askpro.observability import current_correlation_id, get_logger

log = get_logger(__name__)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The dashboard's POSTs (login, replay) are audited exactly like the REST API's.
AUDITED_PREFIXES = ("/api/", "/dashboard/")
UNAUDITED_PREFIXES = ("/api/health",)
MAX_CAPTURED_BODY = 64 * 1024

AUDIT_ROWS = Counter("askpro_audit_rows_total", "Audit rows written.", ["kind"])
AUDIT_QUEUE = Gauge("askpro_audit_queue_rows", "Audit rows waiting to be written.")
AUDIT_FLUSH_FAILURES = Counter("askpro_audit_flush_failures_total", "Failed audit batch inserts.")

# Keys the auth dependency leaves in the request state for the audit row.
STATE_TOKEN_ID = "audit_token_id"  # noqa: S105 - a key name, not a secret
STATE_COMPANY_ID = "audit_company_id"
STATE_KIND = "audit_kind"


def audit_as(request: Request, kind: str) -> None:
    """Make this request's audit row of ``kind`` (e.g. ``"replay"`` for webhook replays)."""
    if kind not in AUDIT_KINDS:
        raise ValueError(f"unknown audit kind {kind!r}")
    setattr(request.state, STATE_KIND, kind)


class AuditWriter:
    """Queue in memory, insert in batches from one background task per event loop."""

    def __init__(
        self,
        database: Callable[[], Database],
        *,
        batch_size: int = 200,
        interval: float = 0.1,
        max_backoff: float = 5.0,
    ) -> None:
        self._database = database
        self._pending: deque[dict[str, Any]] = deque()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.batch_size = batch_size
        self.interval = interval
        self.max_backoff = max_backoff

    def record(self, row: dict[str, Any]) -> None:
        """Queue one row (never blocks the request)."""
        self._pending.append(row)
        AUDIT_QUEUE.set(len(self._pending))
        self._idle.clear()
        if len(self._pending) >= self.batch_size:
            self._wakeup.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="audit-writer")

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def _write_batch(self) -> None:
        batch = [self._pending[index] for index in range(min(self.batch_size, len(self._pending)))]
        async with self._database().sessions() as session:
            await repository.insert_audit_rows(session, batch)
            await session.commit()
        # Only now take them off the queue: a failed insert leaves them for the retry.
        for _ in batch:
            self._pending.popleft()
        AUDIT_QUEUE.set(len(self._pending))
        for row in batch:
            AUDIT_ROWS.labels(row["kind"]).inc()

    async def _run(self) -> None:
        backoff = self.interval
        while True:
            if not self._pending:
                self._idle.set()
                if self._closing:
                    return
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout=self.interval)
                continue
            if len(self._pending) < self.batch_size and not self._closing:
                # Let a batch build up for one interval (or until it is full).
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout=self.interval)
            try:
                await self._write_batch()
                backoff = self.interval
            except Exception as error:  # noqa: BLE001 - retried; rows stay queued
                AUDIT_FLUSH_FAILURES.inc()
                log.warning(
                    "audit.flush_failed",
                    error=type(error).__name__,
                    pending=len(self._pending),
                    retry_in_s=backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)

    async def flush(self) -> None:
        """Wait until every row queued so far is written."""
        if not self._pending:
            return
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="audit-writer")
        self._wakeup.set()
        await self._idle.wait()

    async def close(self) -> None:
        """Write what is queued and stop the task (app shutdown)."""
        self._closing = True
        self._wakeup.set()
        try:
            await self.flush()
        finally:
            if self._task is not None:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
                self._task = None
            self._closing = False


def _resource_id(scope: Scope, body: bytes, status: int) -> str | None:
    params: dict[str, Any] = scope.get("path_params") or {}
    ids = [str(value) for name, value in params.items() if name.endswith("id")]
    if ids:
        return ids[-1]
    if 200 <= status < 300 and body:
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            data = json.loads(body)
            if isinstance(data, dict) and isinstance(data.get("id"), int | str):
                return str(data["id"])
    return None


def route_template(path: str, params: dict[str, Any]) -> str:
    """``/api/v1/staff/7`` with ``{"staff_id": 7}`` → ``/api/v1/staff/{staff_id}``."""
    segments = path.split("/")
    for name, value in params.items():
        for index in range(len(segments) - 1, -1, -1):
            if segments[index] == str(value):
                segments[index] = "{" + name + "}"
                break
    return "/".join(segments)


def audit_kind(method: str, path: str, status: int) -> str | None:
    if not path.startswith(AUDITED_PREFIXES) or path.startswith(UNAUDITED_PREFIXES):
        return None
    if status in (401, 403):
        return "auth_failure"
    if method in WRITE_METHODS:
        return "write"
    return None


class AuditMiddleware:
    """Observes each response and queues its audit row once the response is complete."""

    def __init__(self, app: ASGIApp, writer: AuditWriter) -> None:
        self.app = app
        self.writer = writer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(AUDITED_PREFIXES):
            await self.app(scope, receive, send)
            return
        status = 500
        captured = bytearray()
        capture = scope["method"] in WRITE_METHODS

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif (
                capture
                and message["type"] == "http.response.body"
                and len(captured) < MAX_CAPTURED_BODY
            ):
                captured.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            self._record(scope, status, bytes(captured))

    def _record(self, scope: Scope, status: int, body: bytes) -> None:
        state: dict[str, Any] = scope.get("state") or {}
        kind = state.get(STATE_KIND) or audit_kind(scope["method"], scope["path"], status)
        if kind is None:
            return
        client = scope.get("client")
        params: dict[str, Any] = scope.get("path_params") or {}
        self.writer.record(
            {
                "kind": kind,
                "token_id": state.get(STATE_TOKEN_ID),
                "company_id": state.get(STATE_COMPANY_ID),
                "method": scope["method"],
                "path": scope["path"][:500],
                "route": route_template(scope["path"], params)[:200]
                if scope.get("route")
                else None,
                "resource_id": _resource_id(scope, body, status),
                "status": status,
                "client_ip": client[0] if client else None,
                "correlation_id": current_correlation_id(),
            }
        )
