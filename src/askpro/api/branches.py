"""/api/v1/branches"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from askpro.api.deps import Id, Page, Paging, Principal, Session, page_of, requires
from askpro.auth.scopes import Scope
from askpro.models import Branch
from askpro.tenancy import service
from askpro.tenancy.schemas import BranchCreate, BranchOut, BranchUpdate

router = APIRouter(prefix="/branches", tags=["branches"])
Reader = Annotated[Principal, requires(Scope.BRANCHES_READ)]
Writer = Annotated[Principal, requires(Scope.BRANCHES_WRITE)]


@router.get("", summary="List branches")
async def list_branches(
    principal: Reader,
    session: Session,
    paging: Paging,
    sort: Annotated[Literal["id", "name"], Query(description="Sort key.")] = "id",
) -> Page[BranchOut]:
    rows, cursor = await service.page(session, Branch, principal.tenant(), paging, sort=sort)
    return Page[BranchOut](**page_of(BranchOut, rows, cursor))


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a branch")
async def create_branch(principal: Writer, session: Session, body: BranchCreate) -> BranchOut:
    branch = await service.create_branch(session, principal.tenant(), body)
    await session.commit()
    return BranchOut.model_validate(branch)


@router.get("/{branch_id}", summary="Show a branch")
async def get_branch(principal: Reader, session: Session, branch_id: Id) -> BranchOut:
    return BranchOut.model_validate(
        await service.get(session, Branch, principal.tenant(), branch_id)
    )


@router.patch("/{branch_id}", summary="Change a branch")
async def update_branch(
    principal: Writer, session: Session, branch_id: Id, body: BranchUpdate
) -> BranchOut:
    branch = await service.update(session, Branch, principal.tenant(), branch_id, body)
    await session.commit()
    return BranchOut.model_validate(branch)


@router.delete("/{branch_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a branch")
async def delete_branch(principal: Writer, session: Session, branch_id: Id) -> Response:
    await service.delete(session, Branch, principal.tenant(), branch_id)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
