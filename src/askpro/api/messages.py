"""/api/v1/messages — messages and call-back requests the agent took, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from askpro.api.deps import Id, Page, Paging, Principal, Session, page_of, requires
from askpro.auth.scopes import Scope
from askpro.outbound import messages
from askpro.outbound.schemas import MessageKind, MessageOut, MessageStatus, MessageUpdate

router = APIRouter(prefix="/messages", tags=["messages"])
Reader = Annotated[Principal, requires(Scope.MESSAGES_READ)]
Writer = Annotated[Principal, requires(Scope.MESSAGES_WRITE)]


@router.get("", summary="List messages and call-back requests, newest first")
async def list_messages(
    principal: Reader,
    session: Session,
    paging: Paging,
    kind: MessageKind | None = None,
    status: MessageStatus | None = None,
    call_id: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="Only those taken on this call.")
    ] = None,
) -> Page[MessageOut]:
    rows, cursor = await messages.page_messages(
        session, principal.tenant(), paging, kind=kind, status=status, call_id=call_id
    )
    return Page[MessageOut](**page_of(MessageOut, rows, cursor))


@router.get("/{message_id}", summary="Show a message")
async def get_message(principal: Reader, session: Session, message_id: Id) -> MessageOut:
    return MessageOut.model_validate(
        await messages.get_message(session, principal.tenant(), message_id)
    )


@router.patch("/{message_id}", summary="Mark a message done (or open again)")
async def update_message(
    principal: Writer, session: Session, message_id: Id, body: MessageUpdate
) -> MessageOut:
    message = await messages.update_message(session, principal.tenant(), message_id, body)
    await session.commit()
    return MessageOut.model_validate(message)
