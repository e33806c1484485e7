"""Login sessions of the dashboard: an API token exchanged for a server-side session.

The browser holds only a random session secret in an HttpOnly, SameSite=Lax cookie (Secure
over HTTPS); the database holds its SHA-256, the token it was opened with, the company it
acts on and its CSRF token. Every request re-checks the token, so revoking a token ends
its sessions at once. The token itself travels once, in the login form's body: never in a
URL, never in a cookie, never in a log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from askpro.auth import audit
from askpro.auth import service as auth_service
from askpro.auth.scopes import PLATFORM_SCOPES, Scope
from askpro.kit.time import utc_now
from askpro.models import ApiToken, DashboardSession
from askpro.ops.dashboard import repository

SESSION_COOKIE = "askpro_session"
LOGIN_CSRF_COOKIE = "askpro_login_csrf"
COOKIE_PATH = "/dashboard"
SESSION_LIFETIME = dt.timedelta(hours=8)
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
MAX_FORM_BYTES = 16 * 1024


class LoginRequired(Exception):
    """No valid session: the browser is sent to the login page."""


class CompanyRequired(Exception):
    """A platform session that has not chosen a company opened a company's page."""


class DashboardError(Exception):
    """An error page: 403 (scope or CSRF), 404 (not found or another company's)."""

    def __init__(self, status: int, title: str, detail: str = "") -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.detail = detail


def not_found() -> DashboardError:
    return DashboardError(404, "Not found")


@dataclass(frozen=True)
class Viewer:
    """Who looks at the dashboard, with which scopes, for which company."""

    session_id: int
    token_id: int
    token_name: str
    token_company_id: int | None
    company_id: int | None
    company_name: str | None
    locale: str
    time_zone: str
    scopes: frozenset[str]
    csrf_token: str

    @property
    def is_platform(self) -> bool:
        return self.token_company_id is None

    @property
    def actor(self) -> str:
        """Who replayed, as recorded on the event (the API's format, plus the channel)."""
        return f"api-token:{self.token_id}:{self.token_name} (dashboard)"[:200]

    def can(self, scope: Scope) -> bool:
        return scope.value in self.scopes

    def require(self, scope: Scope) -> None:
        if not self.can(scope):
            raise DashboardError(403, "Forbidden", scope.value)

    def tenant(self) -> int:
        """The company every query is scoped to; a platform session must have chosen one."""
        if self.company_id is None:
            raise CompanyRequired
        return self.company_id


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def held_scopes(token: ApiToken) -> frozenset[str]:
    held = frozenset(token.scopes)
    return held - PLATFORM_SCOPES if token.company_id is not None else held


def token_usable(token: ApiToken, now: dt.datetime) -> bool:
    return token.revoked_at is None and (token.expires_at is None or token.expires_at > now)


async def open_session(
    session: AsyncSession, plaintext_token: str
) -> tuple[str, DashboardSession] | None:
    """Check the token with the auth service and open a session; ``None`` if refused."""
    result = await auth_service.authenticate(session, plaintext_token)
    if result.rejection is not None or result.token is None:
        return None
    now = utc_now()
    await repository.delete_expired_sessions(session, now)
    secret = secrets.token_urlsafe(32)
    row = await repository.add_session(
        session,
        DashboardSession(
            secret_hash=_hash(secret),
            token_id=result.token.id,
            company_id=result.token.company_id,
            csrf_token=secrets.token_urlsafe(32),
            expires_at=now + SESSION_LIFETIME,
        ),
    )
    return secret, row


async def viewer_of(session: AsyncSession, request: Request) -> Viewer | None:
    """The viewer of this request's session cookie, or ``None``."""
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        return None
    now = utc_now()
    found = await repository.session_with_token(session, _hash(secret), now)
    if found is None:
        return None
    row, token, company = found
    if not token_usable(token, now):
        return None
    setattr(request.state, audit.STATE_TOKEN_ID, token.id)
    setattr(request.state, audit.STATE_COMPANY_ID, row.company_id)
    viewer = Viewer(
        session_id=row.id,
        token_id=token.id,
        token_name=token.name,
        token_company_id=token.company_id,
        company_id=row.company_id,
        company_name=company.name if company else None,
        locale=company.locale if company else "en",
        time_zone=company.time_zone if company else "UTC",
        scopes=held_scopes(token),
        csrf_token=row.csrf_token,
    )
    request.state.dashboard_viewer = viewer  # for the error pages' language
    return viewer


async def form_of(request: Request) -> dict[str, str]:
    """The url-encoded form (first value of each field); too large a body is refused."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise DashboardError(413, "Form too large")
    parsed = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[0] for name, values in parsed.items()}


def check_csrf(expected: str, request: Request, form: dict[str, str]) -> None:
    """403 unless the form field or the htmx header carries the expected token."""
    presented = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    if not expected or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise DashboardError(403, "Forbidden", "CSRF token missing or wrong")


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def new_login_csrf() -> str:
    return secrets.token_urlsafe(32)
