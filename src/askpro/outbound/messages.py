"""Messages and call-back requests the agent takes: stored on the call and the customer,
listed in the API, announced as ``message.taken`` / ``callback.requested`` in the same
transaction (one write path: :func:`take`)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from askpro.kit.pagination import PageRequest
from askpro.kit.problems import Problem
from askpro.models import CallerMessage
from askpro.outbound import repository
from askpro.outbound.schemas import (
    EventType,
    MessageKind,
    MessagePayload,
    MessageStatus,
    MessageUpdate,
    Urgency,
)
from askpro.outbound.service import record_event


async def take(
    session: AsyncSession,
    company_id: int,
    kind: MessageKind,
    *,
    call_row_id: int | None,
    retell_call_id: str | None,
    customer_id: int | None,
    caller_name: str | None,
    caller_number: str | None,
    body: str | None,
    urgency: Urgency,
    callback_window: str | None,
) -> CallerMessage:
    message = CallerMessage(
        company_id=company_id,
        call_id=call_row_id,
        customer_id=customer_id,
        kind=kind.value,
        caller_name=caller_name,
        caller_number=caller_number,
        body=body,
        urgency=urgency.value,
        callback_window=callback_window,
    )
    session.add(message)
    await session.flush()
    record_event(
        session,
        company_id,
        EventType.MESSAGE_TAKEN if kind is MessageKind.MESSAGE else EventType.CALLBACK_REQUESTED,
        MessagePayload(
            message_id=message.id,
            kind=kind,
            call_id=retell_call_id,
            customer_id=customer_id,
            caller_name=caller_name,
            caller_number=caller_number,
            message=body,
            urgency=urgency,
            callback_window=callback_window,
        ),
        ordering_key=f"call:{retell_call_id}" if retell_call_id else None,
    )
    return message


def _not_found() -> Problem:
    return Problem(404, "not-found", "Message not found")


async def page_messages(
    session: AsyncSession,
    company_id: int,
    page: PageRequest,
    *,
    kind: MessageKind | None,
    status: MessageStatus | None,
    call_id: int | None,
) -> tuple[list[CallerMessage], str | None]:
    return await repository.page_messages(
        session,
        company_id,
        page,
        kind=kind.value if kind else None,
        status=status.value if status else None,
        call_id=call_id,
    )


async def get_message(session: AsyncSession, company_id: int, message_id: int) -> CallerMessage:
    message = await repository.get_message(session, company_id, message_id)
    if message is None:
        raise _not_found()
    return message


async def update_message(
    session: AsyncSession, company_id: int, message_id: int, data: MessageUpdate
) -> CallerMessage:
    message = await get_message(session, company_id, message_id)
    message.status = data.status.value
    await session.flush()
    await session.refresh(message)
    return message


async def messages_of_call(
    session: AsyncSession, company_id: int, call_row_id: int
) -> list[CallerMessage]:
    return await repository.messages_of_call(session, company_id, call_row_id)
