"""A short-lived per-process cache of authenticated tokens, invalidated at once on revocation.

A request whose exact token string authenticated within the last ``TTL_SECONDS`` skips the
token look-up (a round trip and an ORM load on every API request). Revocation stays
immediate across processes: :func:`announce_revocation` NOTIFYs ``askpro_token_revoked``
inside the revoking transaction (PostgreSQL delivers it on commit), and every process's
:class:`TokenCache` LISTENs and drops the token. While its listener is not connected a
cache serves nothing (every request goes to the database), so a lost connection can never
let a revoked token through.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import time
from dataclasses import dataclass

import psycopg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.kit.time import utc_now
from askpro.models import ApiToken
from askpro.observability import get_logger

log = get_logger(__name__)

CHANNEL = "askpro_token_revoked"
TTL_SECONDS = 10.0
MAX_ENTRIES = 10_000
RECONNECT_SECONDS = 1.0


@dataclass(frozen=True)
class CachedToken:
    """What a request needs of a token that authenticated (never its secret or hash)."""

    id: int
    public_id: str
    company_id: int | None
    name: str
    scopes: frozenset[str]
    expires_at: dt.datetime | None

    @classmethod
    def of(cls, token: ApiToken) -> CachedToken:
        return cls(
            id=token.id,
            public_id=token.public_id,
            company_id=token.company_id,
            name=token.name,
            scopes=frozenset(token.scopes),
            expires_at=token.expires_at,
        )


def _digest(plaintext: str) -> bytes:
    return hashlib.sha256(plaintext.encode()).digest()


async def announce_revocation(session: AsyncSession, public_id: str) -> None:
    """Tell every process's cache, when the caller's transaction commits."""
    await session.execute(
        text("SELECT pg_notify(:channel, :id)"), {"channel": CHANNEL, "id": public_id}
    )


class TokenCache:
    def __init__(self, ttl: float = TTL_SECONDS) -> None:
        self.ttl = ttl
        self._entries: dict[bytes, tuple[float, CachedToken]] = {}
        self._listening = False
        # Bumped by every revocation: a look-up that started before one may not fill the cache.
        self.generation = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def active(self) -> bool:
        return self._listening

    def get(self, plaintext: str) -> CachedToken | None:
        if not self._listening:
            return None
        entry = self._entries.get(_digest(plaintext))
        if entry is None:
            return None
        stored_at, token = entry
        expired = token.expires_at is not None and token.expires_at <= utc_now()
        if time.monotonic() - stored_at > self.ttl or expired:
            self._entries.pop(_digest(plaintext), None)
            return None
        return token

    def put(self, plaintext: str, token: ApiToken, generation: int) -> None:
        """Remember a token that just authenticated, unless a revocation came in between."""
        if not self._listening or generation != self.generation:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[_digest(plaintext)] = (time.monotonic(), CachedToken.of(token))

    def forget(self, public_id: str) -> None:
        self.generation += 1
        for key in [
            key for key, (_, token) in self._entries.items() if token.public_id == public_id
        ]:
            del self._entries[key]

    def _stop_serving(self) -> None:
        self._listening = False
        self.generation += 1
        self._entries.clear()

    # -- the listener ------------------------------------------------------------------------

    def start(self, libpq_url: str) -> None:
        """Listen for revocations in the background (the app's lifespan calls this)."""
        self._task = asyncio.create_task(self._listen_forever(libpq_url), name="token-cache")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._stop_serving()

    async def _listen_forever(self, libpq_url: str) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    libpq_url, autocommit=True
                ) as connection:
                    await connection.execute(f"LISTEN {CHANNEL}")
                    self._listening = True
                    log.debug("token_cache.listening")
                    async for notification in connection.notifies():
                        self.forget(notification.payload)
            except (psycopg.Error, OSError) as error:
                log.warning("token_cache.listener_lost", error=type(error).__name__)
            finally:
                self._stop_serving()
            await asyncio.sleep(RECONNECT_SECONDS)
