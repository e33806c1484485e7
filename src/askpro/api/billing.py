"""/api/v1/billing: balance, ledger, payments, invoices, subscriptions; Checkout top-ups."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, status

from askpro.api.deps import Instant, Page, Paging, Principal, Session, requires
from askpro.auth.scopes import Scope
from askpro.billing import service
from askpro.billing.checkout import create_topup_checkout
from askpro.billing.errors import BillingError, BillingNotConfigured
from askpro.billing.schemas import (
    BalanceOut,
    CheckoutSessionCreate,
    CheckoutSessionOut,
    InvoiceOut,
    LedgerEntryOut,
    PaymentOut,
    SubscriptionOut,
)
from askpro.kit.problems import Problem
from askpro.models.billing import LEDGER_KINDS

router = APIRouter(prefix="/billing", tags=["billing"])
Reader = Annotated[Principal, requires(Scope.BILLING_READ)]
Writer = Annotated[Principal, requires(Scope.BILLING_WRITE)]


@router.get("/balance", summary="The company's credit balance and its paying account's")
async def get_balance(principal: Reader, session: Session) -> BalanceOut:
    return await service.get_balance(session, principal.tenant())


@router.get("/ledger-entries", summary="Ledger entries, newest first")
async def list_ledger_entries(
    principal: Reader,
    session: Session,
    paging: Paging,
    kind: Annotated[
        list[str] | None,
        Query(
            description=f"Only these kinds (repeatable): {', '.join(LEDGER_KINDS)}.",
            json_schema_extra={"items": {"type": "string", "enum": list(LEDGER_KINDS)}},
        ),
    ] = None,
    since: Annotated[
        Instant | None, Query(description="Created at or after; ISO 8601 with offset.")
    ] = None,
    until: Annotated[
        Instant | None, Query(description="Created before; ISO 8601 with offset.")
    ] = None,
) -> Page[LedgerEntryOut]:
    unknown = sorted(set(kind or ()) - set(LEDGER_KINDS))
    if unknown:
        raise Problem(
            422,
            "validation-error",
            "Invalid request",
            f"invalid: kind ({', '.join(unknown)})",
            errors=[{"field": "query.kind", "location": "query", "message": "unknown kind"}],
        )
    items, cursor = await service.page_ledger_entries(
        session, principal.tenant(), paging, kinds=kind or (), since=since, until=until
    )
    return Page[LedgerEntryOut](items=items, next_cursor=cursor)


@router.get("/payments", summary="Stripe payments (top-ups), newest first")
async def list_payments(principal: Reader, session: Session, paging: Paging) -> Page[PaymentOut]:
    items, cursor = await service.page_payments(session, principal.tenant(), paging)
    return Page[PaymentOut](items=items, next_cursor=cursor)


@router.get("/invoices", summary="Stripe invoices of the paying account, newest first")
async def list_invoices(principal: Reader, session: Session, paging: Paging) -> Page[InvoiceOut]:
    items, cursor = await service.page_invoices(session, principal.tenant(), paging)
    return Page[InvoiceOut](items=items, next_cursor=cursor)


@router.get("/subscriptions", summary="Subscriptions and their newest known state")
async def list_subscriptions(
    principal: Reader, session: Session, paging: Paging
) -> Page[SubscriptionOut]:
    items, cursor = await service.page_subscriptions(session, principal.tenant(), paging)
    return Page[SubscriptionOut](items=items, next_cursor=cursor)


@router.post(
    "/checkout-sessions",
    status_code=status.HTTP_201_CREATED,
    summary="Start a credit top-up through Stripe Checkout (503 when billing is not configured)",
    responses={503: {"description": "ASKPRO_STRIPE_API_KEY is not set"}},
)
async def create_checkout_session(
    principal: Writer,
    session: Session,
    request: Request,
    body: CheckoutSessionCreate,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=200,
            description="Retrying with the same key returns the same Checkout session.",
        ),
    ] = None,
) -> CheckoutSessionOut:
    try:
        return await create_topup_checkout(
            session,
            request.app.state.runtime.settings,
            principal.tenant(),
            body,
            idempotency_key=idempotency_key,
        )
    except BillingNotConfigured as error:
        raise Problem(
            503, "billing-not-configured", "Billing is not configured", str(error)
        ) from None
    except BillingError as error:
        raise Problem(502, "payment-provider-error", "Payment provider error", str(error)) from None
