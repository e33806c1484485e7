"""``POST /retell/functions/{name}``: the agent's tool calls, signed like Retell webhooks."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from askpro.integrations.retell import tools
from askpro.integrations.retell.call import RetellCall
from askpro.integrations.retell.context import invalid
from askpro.integrations.retell.inbound import build_inbound_answer
from askpro.integrations.retell.schemas import ToolRequest
from askpro.kit.crypto import SecretBox
from askpro.kit.problems import Problem
from askpro.runtime import Runtime
from askpro.tenancy.service import route_for_number
from askpro.webhooks.registry import set_inbound_responder
from askpro.webhooks.signatures import SignatureError, split_secrets, verify_retell

router = APIRouter(tags=["retell"])


class ToolAnswerResponse(JSONResponse):
    """Keys sorted: a stored (JSONB) answer and a fresh one serialise to the same bytes."""

    def render(self, content: Any) -> bytes:
        return json.dumps(
            content, sort_keys=True, ensure_ascii=False, separators=(",", ":")
        ).encode()


# The hub's /webhooks/retell/inbound route answers with what this builds.
set_inbound_responder(build_inbound_answer)


async def _verify(runtime: Runtime, body: bytes, header: str | None) -> None:
    """The hub's Retell verifier: the configured key(s), then the company's own key."""
    configured = runtime.settings.retell_api_key
    secrets = split_secrets(configured.get_secret_value() if configured else None)
    try:
        verify_retell(body, header, secrets)
        return
    except SignatureError as error:
        first_error = error
    try:
        call = json.loads(body).get("call") or {}
    except (ValueError, AttributeError):
        raise first_error from None
    number = RetellCall.from_payload(call if isinstance(call, dict) else None).our_number
    async with runtime.database.sessions() as session:
        route = await route_for_number(session, number)
    encrypted = route.company.retell_api_key_encrypted if route else None
    if not encrypted:
        raise first_error
    box = SecretBox(runtime.settings.secret_key.get_secret_value())
    verify_retell(body, header, split_secrets(box.decrypt(encrypted)))


@router.post("/retell/functions/{name}", summary="Answer one of the agent's tool calls")
async def tool_call(name: str, request: Request) -> ToolAnswerResponse:
    runtime: Runtime = request.app.state.runtime
    body = await request.body()
    if len(body) > runtime.settings.max_webhook_bytes:
        raise Problem(413, "payload-too-large", "Payload too large")
    try:
        await _verify(runtime, body, request.headers.get("x-retell-signature"))
    except SignatureError as error:
        raise Problem(401, "invalid-signature", "Invalid signature", str(error)) from None
    try:
        payload: Any = json.loads(body)
        parsed = ToolRequest.model_validate(payload)
    except (ValueError, ValidationError):
        return ToolAnswerResponse(invalid("de", ["body"], "the body is not a tool call"))
    return ToolAnswerResponse(await tools.handle(runtime, name, parsed))
