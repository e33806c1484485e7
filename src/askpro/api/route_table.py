"""The route table: every route of the app, how it is protected, and which scopes it needs.

Used by the OpenAPI document (each operation lists its scopes), by ``docs/api-auth.md``
(regenerate with ``python -m askpro.api docs/api-auth.md``) and by the auth matrix
test, which fails for any ``/api/v1`` route that declares no scopes.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount, Route

from askpro.auth.dependencies import RequireScopes
from askpro.auth.ratelimit import NEVER_LIMITED_PREFIXES, is_public_limited
from askpro.auth.scopes import DESCRIPTIONS, PLATFORM_SCOPES, Scope

API_PREFIX = "/api/v1"
TABLE_BEGIN = "<!-- route-table:begin -->"
TABLE_END = "<!-- route-table:end -->"
SCOPES_BEGIN = "<!-- scopes-table:begin -->"
SCOPES_END = "<!-- scopes-table:end -->"


@dataclass(frozen=True)
class RouteEntry:
    method: str
    path: str
    access: str  # "bearer", "public", "webhook", "docs", "dashboard"
    scopes: tuple[str, ...] | None  # None: declares none
    summary: str

    @property
    def platform_only(self) -> bool:
        return bool(self.scopes) and any(scope in PLATFORM_SCOPES for scope in self.scopes or ())


def _find_requirement(dependant: Dependant) -> RequireScopes | None:
    for sub in dependant.dependencies:
        if isinstance(sub.call, RequireScopes):
            return sub.call
        found = _find_requirement(sub)
        if found is not None:
            return found
    return None


def declared_scopes(route: APIRoute) -> tuple[str, ...] | None:
    requirement = _find_requirement(route.dependant)
    if requirement is None:
        return None
    return tuple(sorted(scope.value for scope in requirement.scopes))


# The dashboard's pages need a login session (askpro.ops.dashboard.sessions); these do not.
DASHBOARD_PUBLIC = ("/dashboard/login", "/dashboard/static")


def _access(path: str, scopes: tuple[str, ...] | None) -> str:
    if scopes is not None:
        return "bearer"
    if path.startswith(NEVER_LIMITED_PREFIXES):
        return "webhook"
    if path.startswith(("/docs", "/openapi", "/redoc")):
        return "docs"
    if path.startswith("/dashboard") and not path.startswith(DASHBOARD_PUBLIC):
        return "dashboard"
    return "public"


def api_routes(app: FastAPI) -> list[tuple[str, set[str], APIRoute]]:
    """(full path, methods, route) of every FastAPI route, however deeply included."""
    found = []
    for context in iter_route_contexts(list(app.routes)):
        route = context.original_route
        # path_format: the template as documented (``{id}``, not ``{id:int}``).
        path = context.path_format or context.path
        if isinstance(route, APIRoute) and path:
            found.append((str(path), set(context.methods or ()), route))
    return found


def _walk(app: FastAPI) -> list[RouteEntry]:
    entries: list[RouteEntry] = []
    for path, methods, route in api_routes(app):
        scopes = declared_scopes(route)
        summary = route.summary or route.name.replace("_", " ")
        for method in sorted(methods - {"HEAD", "OPTIONS"}):
            entries.append(RouteEntry(method, path, _access(path, scopes), scopes, summary))
    for context in iter_route_contexts(list(app.routes)):
        other = context.original_route
        if isinstance(other, APIRoute):
            continue
        if isinstance(other, Mount):
            entries.append(RouteEntry("*", f"{other.path}/*", _access(other.path, None), None, ""))
        elif isinstance(other, Route):
            for method in sorted((other.methods or {"GET"}) - {"HEAD", "OPTIONS"}):
                entries.append(
                    RouteEntry(method, other.path, _access(other.path, None), None, other.name)
                )
    return entries


def route_table(app: FastAPI) -> list[RouteEntry]:
    """Every route, sorted by path then method."""
    return sorted(_walk(app), key=lambda entry: (entry.path, entry.method))


def render_markdown(app: FastAPI) -> str:
    lines = [
        "| Method | Path | Access | Scopes | Rate limit |",
        "|---|---|---|---|---|",
    ]
    for entry in route_table(app):
        if entry.access == "bearer":
            scopes = ", ".join(f"`{scope}`" for scope in entry.scopes or ())
            limit = "per token"
        else:
            scopes = "—"
            limit = "per IP" if is_public_limited(entry.path) else "none"
        access = {
            "bearer": "token" + (" (platform)" if entry.platform_only else ""),
            "public": "public",
            "webhook": "webhook signature",
            "docs": "public (docs)",
            "dashboard": "dashboard session (token login), scopes per page",
        }[entry.access]
        lines.append(f"| {entry.method} | `{entry.path}` | {access} | {scopes} | {limit} |")
    return "\n".join(lines)


def render_scopes_markdown() -> str:
    lines = ["| Scope | Platform only | Allows |", "|---|---|---|"]
    for scope in Scope:
        platform = "yes" if scope in PLATFORM_SCOPES else ""
        lines.append(f"| `{scope.value}` | {platform} | {DESCRIPTIONS[scope]} |")
    return "\n".join(lines)


def replace_block(document: str, begin: str, end: str, table: str) -> str:
    before, rest = document.split(begin, 1)
    _, after = rest.split(end, 1)
    return f"{before}{begin}\n{table}\n{end}{after}"


def render_document(document: str, app: FastAPI) -> str:
    """``document`` with its route table and scopes table regenerated."""
    document = replace_block(document, TABLE_BEGIN, TABLE_END, render_markdown(app))
    return replace_block(document, SCOPES_BEGIN, SCOPES_END, render_scopes_markdown())
