"""/api/v1/companies — platform operators only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status

from askpro.api.deps import Id, Page, Paging, Principal, Session, page_of, requires
from askpro.auth.scopes import Scope
from askpro.tenancy import service
from askpro.tenancy.schemas import CompanyCreate, CompanyOut, CompanyUpdate

router = APIRouter(prefix="/companies", tags=["companies"])
Reader = Annotated[Principal, requires(Scope.COMPANIES_READ)]
Writer = Annotated[Principal, requires(Scope.COMPANIES_WRITE)]


@router.get("", summary="List companies")
async def list_companies(_: Reader, session: Session, paging: Paging) -> Page[CompanyOut]:
    rows, cursor = await service.page_companies(session, paging)
    return Page[CompanyOut](**page_of(CompanyOut, rows, cursor))


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a company")
async def create_company(_: Writer, session: Session, body: CompanyCreate) -> CompanyOut:
    company = await service.create_company(session, body)
    await session.commit()
    return CompanyOut.model_validate(company)


@router.get("/{company_id}", summary="Show a company")
async def get_company(_: Reader, session: Session, company_id: Id) -> CompanyOut:
    return CompanyOut.model_validate(await service.get_company(session, company_id))


@router.patch("/{company_id}", summary="Change a company")
async def update_company(
    _: Writer, session: Session, company_id: Id, body: CompanyUpdate
) -> CompanyOut:
    company = await service.update_company(session, company_id, body)
    await session.commit()
    return CompanyOut.model_validate(company)
