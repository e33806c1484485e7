"""Use cases of tokens: create, authenticate, list, revoke. The caller owns the transaction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from askpro.auth import repository, token_cache, tokens
from askpro.auth.scopes import PLATFORM_SCOPES, Scope
from askpro.kit.time import utc_now
from askpro.models import ApiToken


class TokenRejection(StrEnum):
    MALFORMED = "malformed"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REVOKED = "revoked"


class ScopeNotAllowed(ValueError):
    """A company token asked for a platform-only scope."""


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    plaintext: str


async def create_token(
    session: AsyncSession,
    *,
    company_id: int | None,
    name: str,
    scopes: list[Scope],
    expires_in: dt.timedelta | None = None,
    now: dt.datetime | None = None,
) -> IssuedToken:
    """Mint a token; the plaintext is returned once and never stored."""
    if company_id is not None:
        forbidden = sorted(set(scopes) & PLATFORM_SCOPES)
        if forbidden:
            raise ScopeNotAllowed(f"only platform tokens may hold {', '.join(forbidden)}")
    now = now or utc_now()
    minted = tokens.mint()
    token = await repository.add_token(
        session,
        ApiToken(
            public_id=minted.public_id,
            company_id=company_id,
            name=name,
            scopes=sorted(scope.value for scope in scopes),
            secret_hash=minted.secret_hash,
            expires_at=now + expires_in if expires_in else None,
        ),
    )
    return IssuedToken(token=token, plaintext=minted.plaintext)


@dataclass(frozen=True)
class Authentication:
    """The token (when one was found) and, if it may not be used, why."""

    token: ApiToken | None
    rejection: TokenRejection | None
    touched: bool = False  # last_used_at was written: the caller should commit


async def authenticate(
    session: AsyncSession, plaintext: str, *, now: dt.datetime | None = None
) -> Authentication:
    """Check a presented token. Touches ``last_used_at`` at most once a minute."""
    presented = tokens.parse(plaintext)
    if presented is None:
        return Authentication(None, TokenRejection.MALFORMED)
    token = await repository.find_token_by_public_id(session, presented.public_id)
    if not tokens.secret_matches(presented.secret, token.secret_hash if token else None):
        return Authentication(None, TokenRejection.UNKNOWN)
    assert token is not None
    now = now or utc_now()
    if token.revoked_at is not None:
        return Authentication(token, TokenRejection.REVOKED)
    if token.expires_at is not None and token.expires_at <= now:
        return Authentication(token, TokenRejection.EXPIRED)
    stale = token.last_used_at is None or (
        now - token.last_used_at >= repository.LAST_USED_GRANULARITY
    )
    touched = stale and await repository.touch_last_used(session, token.id, now)
    if touched:
        token.last_used_at = now
    return Authentication(token, None, touched=touched)


async def revoke_token(
    session: AsyncSession, company_id: int | None, token_id: int, *, now: dt.datetime | None = None
) -> ApiToken | None:
    """Revoke (idempotent); ``None`` when the token is not visible to ``company_id``."""
    token = await repository.get_token(session, company_id, token_id)
    if token is None:
        return None
    if token.revoked_at is None:
        token.revoked_at = now or utc_now()
        await session.flush()
    await token_cache.announce_revocation(session, token.public_id)  # delivered on commit
    return token


def parse_duration(text: str) -> dt.timedelta:
    """``90d``, ``12h``, ``30m`` → timedelta."""
    units = {"d": "days", "h": "hours", "m": "minutes"}
    text = text.strip().lower()
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit() or int(text[:-1]) < 1:
        raise ValueError(f"not a duration like 90d, 12h or 30m: {text!r}")
    return dt.timedelta(**{units[text[-1]]: int(text[:-1])})
