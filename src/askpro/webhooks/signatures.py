"""The one place that signs and verifies provider webhook signatures.

- Retell ``x-retell-signature: v=<ms>,d=<hex>``: HMAC-SHA256(key, body + str(ms)),
  timestamp within ±5 minutes (Retell's SDK, implemented strictly and constant-time).
- Cal.com ``X-Cal-Signature-256: <hex>``: HMAC-SHA256(secret, body); the literal
  ``no-secret-provided`` is refused whenever a secret is configured.
- Stripe ``Stripe-Signature: t=<s>,v1=<hex>[,v1=…]``: HMAC-SHA256(secret, f"{t}.{body}"),
  verified by Stripe's own library (300 s tolerance, any matching ``v1``). The library gets
  the body as ``str``: ``WebhookSignature.verify_header`` before stripe 15.6.0 interpolates
  the payload with ``"%d.%s"``, so raw ``bytes`` would be signed as their ``repr`` and every
  genuine event rejected (15.6.0 added the decode).

Each verifier takes several secrets (rotation): the signature verifies if any one matches.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Sequence

RETELL_TOLERANCE_MS = 5 * 60 * 1000
STRIPE_TOLERANCE_SECONDS = 300
CALCOM_UNSIGNED = "no-secret-provided"
_RETELL_HEADER = re.compile(r"v=(\d{1,16}),d=([0-9a-f]{64})")
_CALCOM_HEADER = re.compile(r"[0-9a-f]{64}")


# A request body as read: one piece as it came, or the pieces joined in one buffer (see
# ``ingest.read_body``); converting the buffer to ``bytes`` would copy it.
RawBody = bytes | bytearray


class SignatureError(Exception):
    """The request is not provably from the provider; the reason is safe to log."""


def split_secrets(configured: str | None) -> list[str]:
    """``"a, b"`` → ``["a", "b"]``: several secrets may be active during a rotation."""
    if not configured:
        return []
    return [secret.strip() for secret in configured.split(",") if secret.strip()]


def _hmac_hex(secret: str, message: RawBody, suffix: bytes = b"") -> str:
    """HMAC-SHA256 of ``message + suffix``, without building that concatenation (bodies of
    long calls are megabytes)."""
    mac = hmac.new(secret.encode(), message, hashlib.sha256)
    mac.update(suffix)
    return mac.hexdigest()


def _require_secrets(secrets: Sequence[str]) -> None:
    if not secrets:
        raise SignatureError("no signing secret configured")


def sign_retell(body: RawBody, secret: str, timestamp_ms: int | None = None) -> str:
    timestamp_ms = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    return f"v={timestamp_ms},d={_hmac_hex(secret, body, str(timestamp_ms).encode())}"


def verify_retell(
    body: RawBody, header: str | None, secrets: Sequence[str], *, now_ms: int | None = None
) -> None:
    _require_secrets(secrets)
    if not header:
        raise SignatureError("missing x-retell-signature header")
    match = _RETELL_HEADER.fullmatch(header.strip())
    if match is None:
        raise SignatureError("malformed x-retell-signature header")
    timestamp_ms, digest = int(match.group(1)), match.group(2)
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now_ms - timestamp_ms) > RETELL_TOLERANCE_MS:
        raise SignatureError("x-retell-signature timestamp outside the 5 minute tolerance")
    stamp = str(timestamp_ms).encode()
    if not any(hmac.compare_digest(_hmac_hex(secret, body, stamp), digest) for secret in secrets):
        raise SignatureError("x-retell-signature does not match")


def sign_calcom(body: RawBody, secret: str) -> str:
    return _hmac_hex(secret, body)


def verify_calcom(body: RawBody, header: str | None, secrets: Sequence[str]) -> None:
    _require_secrets(secrets)
    if not header:
        raise SignatureError("missing X-Cal-Signature-256 header")
    value = header.strip()
    if value == CALCOM_UNSIGNED:
        raise SignatureError("Cal.com sent no signature but a secret is configured")
    if _CALCOM_HEADER.fullmatch(value) is None:
        raise SignatureError("malformed X-Cal-Signature-256 header")
    if not any(hmac.compare_digest(_hmac_hex(secret, body), value) for secret in secrets):
        raise SignatureError("X-Cal-Signature-256 does not match")


def sign_stripe(body: RawBody, secret: str, timestamp: int | None = None) -> str:
    # Not the library's generate_signature_header: it exists only from stripe 15.5.0.
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={_hmac_hex(secret, str(timestamp).encode() + b'.' + body)}"


def verify_stripe(
    body: RawBody,
    header: str | None,
    secrets: Sequence[str],
    *,
    tolerance: int = STRIPE_TOLERANCE_SECONDS,
) -> None:
    from stripe import SignatureVerificationError, WebhookSignature

    _require_secrets(secrets)
    if not header:
        raise SignatureError("missing Stripe-Signature header")
    try:
        payload = body.decode("utf-8")  # see the module docstring: never pass bytes
    except UnicodeDecodeError:
        raise SignatureError("Stripe-Signature: the body is not UTF-8") from None
    reasons = set()
    for secret in secrets:
        try:
            WebhookSignature.verify_header(payload, header, secret, tolerance)
        except SignatureVerificationError as error:
            reasons.add(str(error).split(".")[0])
            continue
        return
    raise SignatureError("Stripe-Signature: " + "; ".join(sorted(reasons)))
