"""/api/v1/webhook-endpoints — outbound event subscriptions, their deliveries and replays.

The signing secret is shown once, in the answer that creates or rotates it. Scoping by
company happens in the outbound repository.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response, status

from askpro.api.deps import Id, Page, Paging, Principal, Session, page_of, requires
from askpro.auth.audit import audit_as
from askpro.auth.scopes import Scope
from askpro.config import Settings
from askpro.kit.problems import Problem
from askpro.outbound import service
from askpro.outbound.schemas import (
    DeliveryDetail,
    DeliveryOut,
    DeliveryStatus,
    EndpointCreate,
    EndpointOut,
    EndpointUpdate,
    EndpointWithSecret,
    ReplayFilter,
    ReplayOut,
    SecretRotation,
)

router = APIRouter(prefix="/webhook-endpoints", tags=["webhook endpoints"])
Reader = Annotated[Principal, requires(Scope.WEBHOOK_ENDPOINTS_READ)]
Writer = Annotated[Principal, requires(Scope.WEBHOOK_ENDPOINTS_WRITE)]


def _settings(request: Request) -> Settings:
    settings = request.app.state.runtime.settings
    assert isinstance(settings, Settings)
    return settings


@router.get("", summary="List the company's webhook endpoints")
async def list_endpoints(principal: Reader, session: Session, paging: Paging) -> Page[EndpointOut]:
    rows, cursor = await service.page_endpoints(session, principal.tenant(), paging)
    return Page[EndpointOut](**page_of(EndpointOut, rows, cursor))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Register an endpoint; the answer holds its signing secret (shown only here)",
)
async def create_endpoint(
    principal: Writer, session: Session, request: Request, body: EndpointCreate
) -> EndpointWithSecret:
    created = await service.create_endpoint(session, principal.tenant(), body, _settings(request))
    await session.commit()
    return created


@router.get("/{endpoint_id}", summary="Show an endpoint")
async def get_endpoint(principal: Reader, session: Session, endpoint_id: Id) -> EndpointOut:
    endpoint = await service.get_endpoint(session, principal.tenant(), endpoint_id)
    return EndpointOut.model_validate(endpoint)


@router.patch(
    "/{endpoint_id}",
    summary="Change an endpoint (enabled=true resumes one askpro disabled)",
)
async def update_endpoint(
    principal: Writer, session: Session, request: Request, endpoint_id: Id, body: EndpointUpdate
) -> EndpointOut:
    endpoint = await service.update_endpoint(
        session, principal.tenant(), endpoint_id, body, _settings(request)
    )
    await session.commit()
    return EndpointOut.model_validate(endpoint)


@router.delete(
    "/{endpoint_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an endpoint and its delivery log",
)
async def delete_endpoint(principal: Writer, session: Session, endpoint_id: Id) -> Response:
    await service.delete_endpoint(session, principal.tenant(), endpoint_id)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{endpoint_id}/rotate-secret",
    summary="New signing secret; the old one keeps signing during the overlap",
)
async def rotate_secret(
    principal: Writer, session: Session, request: Request, endpoint_id: Id, body: SecretRotation
) -> EndpointWithSecret:
    rotated = await service.rotate_secret(
        session, principal.tenant(), endpoint_id, body.overlap_seconds, _settings(request)
    )
    await session.commit()
    return rotated


@router.get(
    "/{endpoint_id}/deliveries",
    summary="The endpoint's deliveries, newest first",
)
async def list_deliveries(
    principal: Reader,
    session: Session,
    paging: Paging,
    endpoint_id: Id,
    status: DeliveryStatus | None = None,
) -> Page[DeliveryOut]:
    items, cursor = await service.page_deliveries(
        session, principal.tenant(), endpoint_id, paging, status=status
    )
    return Page[DeliveryOut](items=items, next_cursor=cursor)


@router.get(
    "/{endpoint_id}/deliveries/{delivery_id}",
    summary="Show a delivery: the body sent and every attempt (status, latency, answer)",
)
async def get_delivery(
    principal: Reader, session: Session, endpoint_id: Id, delivery_id: Id
) -> DeliveryDetail:
    return await service.get_delivery(session, principal.tenant(), endpoint_id, delivery_id)


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/replay",
    summary="Send a delivery again now (the same webhook-id and body)",
    responses={409: {"description": "The delivery is being attempted right now."}},
)
async def replay_delivery(
    principal: Writer, session: Session, request: Request, endpoint_id: Id, delivery_id: Id
) -> DeliveryOut:
    audit_as(request, "replay")
    company_id = principal.tenant()
    await service.get_delivery(session, company_id, endpoint_id, delivery_id)
    replayed = await service.replay(session, company_id, endpoint_id, delivery_ids=[delivery_id])
    if not replayed:
        raise Problem(409, "in-flight", "Delivery in flight", "an attempt is running; retry soon")
    await session.commit()
    detail = await service.get_delivery(session, company_id, endpoint_id, delivery_id)
    return DeliveryOut.model_validate(detail.model_dump())


@router.post(
    "/{endpoint_id}/replay",
    summary="Send deliveries again by status and age (at most 1000, oldest first)",
)
async def replay_deliveries(
    principal: Writer, session: Session, request: Request, endpoint_id: Id, body: ReplayFilter
) -> ReplayOut:
    audit_as(request, "replay")
    replayed = await service.replay(
        session,
        principal.tenant(),
        endpoint_id,
        status=body.status,
        since=body.since,
        limit=body.limit,
    )
    await session.commit()
    return ReplayOut(count=len(replayed), delivery_ids=replayed)
