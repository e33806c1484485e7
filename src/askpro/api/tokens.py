"""/api/v1/tokens — a token holder with ``tokens:write`` manages the company's tokens.

A token can only grant scopes it holds itself, so ``tokens:write`` never escalates.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Response, status

from askpro.api.deps import Id, Page, Paging, Principal, Session, page_of, requires
from askpro.auth import repository, service
from askpro.auth.schemas import TokenCreate, TokenCreated, TokenOut
from askpro.auth.scopes import Scope
from askpro.kit.problems import Problem

router = APIRouter(prefix="/tokens", tags=["tokens"])
Manager = Annotated[Principal, requires(Scope.TOKENS_WRITE)]


@router.get("", summary="List tokens (never their secrets)")
async def list_tokens(principal: Manager, session: Session, paging: Paging) -> Page[TokenOut]:
    rows, cursor = await repository.list_tokens(session, principal.company_id, paging)
    return Page[TokenOut](**page_of(TokenOut, rows, cursor))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a token; the response carries it once",
)
async def create_token(principal: Manager, session: Session, body: TokenCreate) -> TokenCreated:
    beyond = sorted(scope.value for scope in set(body.scopes) - principal.scopes)
    if beyond:
        raise Problem(
            403,
            "scope-escalation",
            "Cannot grant scopes you do not hold",
            f"this token does not hold {', '.join(beyond)}",
            errors=[{"field": "scopes", "location": "body", "message": "not held by caller"}],
        )
    try:
        issued = await service.create_token(
            session,
            company_id=principal.company_id,
            name=body.name,
            scopes=body.scopes,
            expires_in=dt.timedelta(days=body.expires_in_days) if body.expires_in_days else None,
        )
    except service.ScopeNotAllowed as error:
        raise Problem(
            422,
            "validation-error",
            "Invalid request",
            str(error),
            errors=[{"field": "scopes", "location": "body", "message": str(error)}],
        ) from None
    await session.commit()
    return TokenCreated(
        **TokenOut.model_validate(issued.token).model_dump(), token=issued.plaintext
    )


@router.get("/{token_id}", summary="Show a token")
async def get_token(principal: Manager, session: Session, token_id: Id) -> TokenOut:
    token = await repository.get_token(session, principal.company_id, token_id)
    if token is None:
        raise Problem(404, "not-found", "Token not found")
    return TokenOut.model_validate(token)


@router.delete(
    "/{token_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke a token (idempotent)"
)
async def revoke_token(principal: Manager, session: Session, token_id: Id) -> Response:
    if await service.revoke_token(session, principal.company_id, token_id) is None:
        raise Problem(404, "not-found", "Token not found")
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
