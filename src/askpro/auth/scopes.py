"""The scopes a token may hold; each endpoint declares the ones it needs."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    COMPANIES_READ = "companies:read"
    COMPANIES_WRITE = "companies:write"
    BRANCHES_READ = "branches:read"
    BRANCHES_WRITE = "branches:write"
    STAFF_READ = "staff:read"
    STAFF_WRITE = "staff:write"
    SERVICES_READ = "services:read"
    SERVICES_WRITE = "services:write"
    CUSTOMERS_READ = "customers:read"
    CUSTOMERS_WRITE = "customers:write"
    APPOINTMENTS_READ = "appointments:read"
    APPOINTMENTS_WRITE = "appointments:write"
    CALLS_READ = "calls:read"
    BILLING_READ = "billing:read"
    BILLING_WRITE = "billing:write"
    WEBHOOKS_READ = "webhooks:read"
    WEBHOOKS_REPLAY = "webhooks:replay"
    WEBHOOK_ENDPOINTS_READ = "webhook-endpoints:read"
    WEBHOOK_ENDPOINTS_WRITE = "webhook-endpoints:write"
    MESSAGES_READ = "messages:read"
    MESSAGES_WRITE = "messages:write"
    TOKENS_WRITE = "tokens:write"
    AUDIT_READ = "audit:read"


DESCRIPTIONS: dict[Scope, str] = {
    Scope.COMPANIES_READ: "List and read companies (platform tokens only).",
    Scope.COMPANIES_WRITE: "Create and change companies (platform tokens only).",
    Scope.BRANCHES_READ: "Read branches and their phone numbers.",
    Scope.BRANCHES_WRITE: "Create, change and delete branches and phone numbers.",
    Scope.STAFF_READ: "Read staff members.",
    Scope.STAFF_WRITE: "Create, change and delete staff members.",
    Scope.SERVICES_READ: "Read services and which staff perform them.",
    Scope.SERVICES_WRITE: "Create, change and delete services; assign staff to them.",
    Scope.CUSTOMERS_READ: "Read customers.",
    Scope.CUSTOMERS_WRITE: "Create, change and merge customers.",
    Scope.APPOINTMENTS_READ: "Read appointments.",
    Scope.APPOINTMENTS_WRITE: "Book, cancel and reschedule appointments.",
    Scope.CALLS_READ: "Read calls, transcripts and their appointments.",
    Scope.BILLING_READ: "Read balance, ledger and invoices.",
    Scope.BILLING_WRITE: "Change billing settings.",
    Scope.WEBHOOKS_READ: "List and read received webhook events.",
    Scope.WEBHOOKS_REPLAY: "Replay webhook events.",
    Scope.WEBHOOK_ENDPOINTS_READ: "Read outbound webhook endpoints and their delivery log.",
    Scope.WEBHOOK_ENDPOINTS_WRITE: (
        "Create, change, delete outbound webhook endpoints; rotate secrets; replay deliveries."
    ),
    Scope.MESSAGES_READ: "Read the messages and call-back requests the agent took.",
    Scope.MESSAGES_WRITE: "Mark messages and call-back requests done.",
    Scope.TOKENS_WRITE: "List, create and revoke API tokens of the company.",
    Scope.AUDIT_READ: "Read the audit log.",
}

# Only platform tokens (no company) may hold these; a company token never gets them.
PLATFORM_SCOPES = frozenset({Scope.COMPANIES_READ, Scope.COMPANIES_WRITE})
ALL_SCOPES = frozenset(Scope)
COMPANY_SCOPES = ALL_SCOPES - PLATFORM_SCOPES


def parse_scopes(raw: str | list[str], *, for_company: bool = False) -> list[Scope]:
    """``"a,b"`` or ``["a", "b"]`` → scopes, sorted and deduplicated.

    ``"*"`` means every scope the token can hold: all of them for a platform token, every
    scope but the platform-only ones for a company token (``for_company``).
    """
    items = raw.split(",") if isinstance(raw, str) else raw
    names = {item.strip() for item in items if item.strip()}
    if "*" in names:
        return sorted(COMPANY_SCOPES if for_company else ALL_SCOPES)
    known = {scope.value for scope in Scope}
    unknown = sorted(names - known)
    if unknown:
        raise ValueError(f"unknown scope(s): {', '.join(unknown)}")
    return sorted(Scope(name) for name in names)
