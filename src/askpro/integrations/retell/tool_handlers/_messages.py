"""The tools that take a message for the company: ``take_message`` and
``request_callback`` (stored on the call and the caller's customer, and announced)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from askpro.integrations.retell import messages
from askpro.integrations.retell.context import MessageOutcome, ToolContext, answer
from askpro.integrations.retell.schemas import RequestCallbackArgs, TakeMessageArgs
from askpro.outbound import messages as caller_messages
from askpro.outbound.schemas import MessageKind, Urgency


async def _take(
    context: ToolContext,
    kind: MessageKind,
    *,
    caller_name: str | None,
    caller_number: str | None,
    body: str | None,
    urgency: str,
    window: str | None,
) -> None:
    """Store the message on the call and the caller's customer; announce it (one unit)."""

    async def work(session: AsyncSession) -> None:
        await caller_messages.take(
            session,
            context.company.id,
            kind,
            call_row_id=context.call_row_id,
            retell_call_id=context.call_id,
            customer_id=context.customer_id,
            caller_name=caller_name,
            caller_number=caller_number or context.caller_number,
            body=body,
            urgency=Urgency(urgency),
            callback_window=window,
        )

    await context.runtime.database.unit_of_work(work, name="retell.take_message")


async def take_message(context: ToolContext, args: TakeMessageArgs) -> dict[str, Any]:
    await _take(
        context,
        MessageKind.MESSAGE,
        caller_name=args.caller_name,
        caller_number=args.caller_number,
        body=args.message,
        urgency=args.urgency,
        window=None,
    )
    return answer(MessageOutcome.MESSAGE_TAKEN, messages.message_taken_message(context.locale))


async def request_callback(context: ToolContext, args: RequestCallbackArgs) -> dict[str, Any]:
    await _take(
        context,
        MessageKind.CALLBACK,
        caller_name=args.caller_name,
        caller_number=args.caller_number,
        body=args.reason,
        urgency=args.urgency,
        window=args.preferred_window,
    )
    return answer(
        MessageOutcome.CALLBACK_REQUESTED,
        messages.callback_requested_message(args.preferred_window, context.locale),
    )
