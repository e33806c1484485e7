"""The one dependency that authenticates a request and declares the scopes it needs.

    principal: Annotated[Principal, requires(Scope.STAFF_READ)]

It answers 401 (with ``WWW-Authenticate: Bearer``) for a missing, malformed, unknown,
expired or revoked token, 429 when the token's budget is spent, 403 when a scope is
missing. The declared scopes end up in the OpenAPI security requirement of the operation
and in the route table (:mod:`askpro.api.route_table`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from askpro.auth import audit, service
from askpro.auth.ratelimit import RateLimiter
from askpro.auth.scopes import PLATFORM_SCOPES, Scope
from askpro.auth.token_cache import CachedToken, TokenCache
from askpro.kit.problems import Problem
from askpro.models import Company

COMPANY_HEADER = "X-Company-ID"

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearerToken",
    description="`Authorization: Bearer askpro_<public id>_<secret>`",
)


READ_METHODS = frozenset({"GET", "HEAD"})


async def db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; routes that write commit it explicitly before returning.

    Reads (GET, HEAD) get an autocommit session: no transaction round trips around them.
    """
    database = request.app.state.runtime.database
    sessions = database.autocommit_sessions if request.method in READ_METHODS else database.sessions
    async with sessions() as session:
        yield session


@dataclass(frozen=True)
class Principal:
    """Who is calling, with which scopes, on behalf of which company."""

    token_id: int
    public_id: str
    token_company_id: int | None
    scopes: frozenset[str]
    # The company the request acts on: the token's, or the one a platform token named.
    company_id: int | None
    token_name: str = ""

    @property
    def actor(self) -> str:
        """Who made a change, for history rows: the token's id and name."""
        return f"api token {self.token_id} ({self.token_name})"[:200]

    @property
    def is_platform(self) -> bool:
        return self.token_company_id is None

    def tenant(self) -> int:
        """The company every query of this request is scoped to."""
        if self.company_id is None:
            raise Problem(
                400,
                "company-required",
                "Company required",
                f"a platform token must name the company in the {COMPANY_HEADER} header",
                errors=[
                    {
                        "field": f"header.{COMPANY_HEADER}",
                        "location": "header",
                        "message": "required for platform tokens",
                    }
                ],
            )
        return self.company_id


def _unauthorized(detail: str, *, invalid: bool) -> Problem:
    challenge = 'Bearer realm="askpro"' + (', error="invalid_token"' if invalid else "")
    return Problem(
        401,
        "unauthorized",
        "Authentication required",
        detail,
        headers={"WWW-Authenticate": challenge},
    )


async def _count_unauthenticated(request: Request, limiter: RateLimiter) -> None:
    """Requests without a usable token spend a per-IP budget (guessing, log flooding)."""
    verdict = await limiter.hit_unauthenticated(request.client.host if request.client else "-")
    if not verdict.allowed:
        raise verdict.problem()


SessionSource = Callable[[], Awaitable[AsyncSession]]


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else ``None``
    (what :data:`bearer_scheme` reads, for callers outside FastAPI's dependencies)."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if not scheme or not token or scheme.lower() != "bearer":
        return None
    return token


@dataclass(frozen=True)
class Authorized:
    """A request's principal and the ``RateLimit-*`` headers its answer carries."""

    principal: Principal
    headers: dict[str, str]


async def authorize(
    request: Request,
    scopes: frozenset[Scope],
    token: str | None,
    company_header: int | None,
    session: SessionSource,
) -> Authorized:
    """Authenticate ``token``, spend its budget, check ``scopes`` and the acting company.

    The one implementation behind :class:`RequireScopes` and the hot paths
    (:mod:`askpro.api.hot`). Raises the problem to answer: 401 (a missing or unusable
    token; it also spends the client's per-IP budget), 429, 403, 404 (another company).
    ``session`` is awaited only when the database is needed (a token the cache does not
    hold, a platform token naming a company). Leaves the audit keys in ``request.state``.
    """
    limiter: RateLimiter = request.app.state.rate_limiter
    if token is None:
        await _count_unauthenticated(request, limiter)
        raise _unauthorized("send Authorization: Bearer <token>", invalid=False)
    found = await _authenticated(request, session, token)

    verdict = await limiter.hit_token(found.public_id)
    if not verdict.allowed:
        raise verdict.problem()

    held = found.scopes
    if found.company_id is not None:
        held -= PLATFORM_SCOPES
    missing = sorted(scopes - held)
    if missing:
        raise Problem(
            403,
            "insufficient-scope",
            "Insufficient scope",
            f"this operation needs {', '.join(missing)}",
            required_scopes=sorted(scopes),
            headers={
                "WWW-Authenticate": (
                    f'Bearer realm="askpro", error="insufficient_scope", '
                    f'scope="{" ".join(sorted(scopes))}"'
                )
            },
        )
    company_id = await _acting_company(session, found.company_id, company_header)
    setattr(request.state, audit.STATE_COMPANY_ID, company_id)
    principal = Principal(
        token_id=found.id,
        public_id=found.public_id,
        token_company_id=found.company_id,
        scopes=held,
        company_id=company_id,
        token_name=found.name,
    )
    return Authorized(principal, verdict.headers())


class RequireScopes:
    """The dependency behind :func:`requires`; the route table finds it by type."""

    def __init__(self, scopes: Iterable[Scope]) -> None:
        self.scopes: frozenset[Scope] = frozenset(scopes)

    def __repr__(self) -> str:
        return f"RequireScopes({sorted(self.scopes)})"

    async def __call__(
        self,
        request: Request,
        response: Response,
        session: Annotated[AsyncSession, Depends(db_session)],
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
        company_header: Annotated[
            int | None,
            Header(
                alias=COMPANY_HEADER,
                ge=1,
                le=2**63 - 1,
                description="Platform tokens only: the company to act on.",
            ),
        ] = None,
    ) -> Principal:
        async def this_session() -> AsyncSession:
            return session

        token = credentials.credentials if credentials is not None else None
        authorized = await authorize(request, self.scopes, token, company_header, this_session)
        response.headers.update(authorized.headers)
        return authorized.principal


async def _authenticated(request: Request, session: SessionSource, plaintext: str) -> CachedToken:
    """The token a request presents, from the token cache or the database; 401 if unusable."""
    cache: TokenCache | None = getattr(request.app.state, "token_cache", None)
    cached = cache.get(plaintext) if cache is not None else None
    if cached is not None:
        setattr(request.state, audit.STATE_TOKEN_ID, cached.id)
        setattr(request.state, audit.STATE_COMPANY_ID, cached.company_id)
        return cached
    generation = cache.generation if cache is not None else 0
    database = await session()
    result = await service.authenticate(database, plaintext)
    if result.token is not None:
        setattr(request.state, audit.STATE_TOKEN_ID, result.token.id)
        setattr(request.state, audit.STATE_COMPANY_ID, result.token.company_id)
    if result.rejection is not None or result.token is None:
        reason = result.rejection.value if result.rejection else "unknown"
        await _count_unauthenticated(request, request.app.state.rate_limiter)
        raise _unauthorized(f"token is {reason}", invalid=True)
    if result.touched:
        await database.commit()  # the at-most-once-a-minute last_used_at write
    if cache is not None:
        cache.put(plaintext, result.token, generation)
    return CachedToken.of(result.token)


async def _acting_company(
    session: SessionSource, token_company_id: int | None, named: int | None
) -> int | None:
    if named is None:
        return token_company_id
    if token_company_id is not None:
        if named != token_company_id:
            # Another company's id answers like any other company's resource: not found.
            raise Problem(404, "not-found", "Company not found")
        return named
    if not await (await session()).scalar(select(exists().where(Company.id == named))):
        raise Problem(404, "not-found", "Company not found")
    return named


def requires(*scopes: Scope) -> Any:
    """Declare the scopes an endpoint needs: ``Annotated[Principal, requires(...)]``."""
    return Security(RequireScopes(scopes), scopes=sorted(scope.value for scope in scopes))
