"""Hot API reads: a FastAPI route's request answered without FastAPI's per-request work.

The route stays declared in FastAPI (the OpenAPI document, the route table, and the
fallback for HEAD); :class:`HotRead` serves its exact path through
:class:`askpro.hot_paths.HotPaths` with the route's own declarations:

- the query and header parameters come from the route's dependant, validated by one
  pydantic model per location built once, so the same input is accepted and the same
  errors are reported (translated by :func:`askpro.kit.problems.handle_validation_error`);
- authorisation is :func:`askpro.auth.dependencies.authorize`, the function behind every
  route's ``requires(...)``, with the scopes the route declares;
- the checks keep FastAPI's order: unknown query parameters (the router's dependency),
  then the authorisation dependency unless its header is invalid, then the other
  parameters; validation errors of both are reported together.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request
from starlette.responses import Response

from askpro.api.deps import unknown_query_parameters
from askpro.api.route_table import declared_scopes
from askpro.auth.dependencies import Authorized, authorize, bearer_token
from askpro.auth.scopes import Scope
from askpro.kit import problems

# What a hot read does once the request is authorised and valid: its parameters arrive by
# their Python names (``company_header`` is the authorisation's, not passed on).
Serve = Callable[[Request, Authorized, dict[str, Any]], Awaitable[Response]]
COMPANY_PARAMETER = "company_header"


class _Parameters:
    """The parameters of one location (``query``, ``header``), validated in one call."""

    def __init__(self, location: str, fields: Sequence[Any], name: str) -> None:
        self.location = location
        # (request key, Python name, repeated?) in declaration order, like FastAPI reads them.
        self.fields = [
            (str(field.alias), str(field.name), _is_sequence(field.field_info.annotation))
            for field in fields
        ]
        definitions: dict[str, Any] = {
            str(field.name): (field.field_info.annotation, field.field_info) for field in fields
        }
        self.model: type[BaseModel] = create_model(
            name, __config__=ConfigDict(extra="ignore"), **definitions
        )

    def read(self, source: QueryParams | Headers) -> tuple[dict[str, Any], list[Any]]:
        """(values by Python name, FastAPI-shaped errors); values are absent on errors."""
        raw: dict[str, Any] = {}
        for key, _, repeated in self.fields:
            if repeated:
                values = source.getlist(key)
                if values:  # an absent list takes its default, as FastAPI does
                    raw[key] = values
            else:
                value = source.get(key)
                if value is not None:
                    raw[key] = value
        try:
            validated = self.model.model_validate(raw)
        except ValidationError as error:
            return {}, [
                {**detail, "loc": (self.location, *detail["loc"])}
                for detail in error.errors(include_url=False)
            ]
        return {name: getattr(validated, name) for _, name, _ in self.fields}, []


def _is_sequence(annotation: Any) -> bool:
    """A repeatable parameter (``list[X] | None``): read with ``getlist``, as FastAPI does."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _is_sequence(get_args(annotation)[0])
    if origin in (Union, UnionType):
        return any(_is_sequence(arg) for arg in get_args(annotation) if arg is not type(None))
    return (origin or annotation) in (list, tuple, set, frozenset)


def _fields(dependant: Dependant, kind: str) -> list[Any]:
    """The route's parameters of one kind in the order FastAPI validates them: each
    dependency's (depth first) before the dependant's own; a shared one once."""
    found: dict[str, Any] = {}
    for sub in dependant.dependencies:
        for field in _fields(sub, kind):
            found.setdefault(str(field.alias), field)
    for field in getattr(dependant, kind):
        found.setdefault(str(field.alias), field)
    return list(found.values())


class _LazySession:
    """The request's database session, opened only if authorisation needs the database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._session: AsyncSession | None = None

    async def get(self) -> AsyncSession:
        if self._session is None:
            self._session = self._sessions()
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class HotRead:
    """The endpoint :class:`~askpro.hot_paths.HotPaths` calls for ``route``'s exact path."""

    def __init__(self, route: APIRoute, serve: Serve) -> None:
        scopes = declared_scopes(route)
        if scopes is None:
            raise ValueError(f"{route.path} declares no scopes")
        self.route = route
        self.scopes = frozenset(Scope(scope) for scope in scopes)
        self.serve = serve
        query = _fields(route.dependant, "query_params")
        self.query_names = frozenset(str(field.alias) for field in query)
        self.query = _Parameters("query", query, f"{route.name}_query")
        headers = _fields(route.dependant, "header_params")
        self.headers = _Parameters("header", headers, f"{route.name}_headers")

    async def __call__(self, request: Request) -> Response:
        # What the router would have set: the audit row names the route template.
        request.scope["route"] = self.route
        unknown = unknown_query_parameters(request, self.query_names)
        if unknown is not None:
            raise unknown
        headers, header_errors = self.headers.read(request.headers)
        authorized: Authorized | None = None
        if not header_errors:
            session = _LazySession(request.app.state.runtime.database.autocommit_sessions)
            try:
                authorized = await authorize(
                    request,
                    self.scopes,
                    bearer_token(request.headers.get("authorization")),
                    headers.get(COMPANY_PARAMETER),
                    session.get,
                )
            finally:
                await session.close()
        query, query_errors = self.query.read(request.query_params)
        if header_errors or query_errors:
            error = RequestValidationError([*header_errors, *query_errors])
            return await problems.handle_validation_error(request, error)
        assert authorized is not None
        return await self.serve(request, authorized, query)


def hot_reads(
    routes: Sequence[tuple[str, set[str], APIRoute]], serving: Mapping[str, Serve]
) -> dict[tuple[str, str], HotRead]:
    """``HotPaths`` entries for the GET routes at the paths ``serving`` names."""
    found = {path: route for path, methods, route in routes if "GET" in methods}
    missing = set(serving) - set(found)
    if missing:
        raise ValueError(f"no GET route at {sorted(missing)}")
    return {("GET", path): HotRead(found[path], serve) for path, serve in serving.items()}
