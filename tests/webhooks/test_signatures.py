"""Signature schemes of the three providers, including Retell's published test vector."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest
import stripe

from askpro.webhooks.signatures import (
    SignatureError,
    sign_calcom,
    sign_retell,
    sign_stripe,
    split_secrets,
    verify_calcom,
    verify_retell,
    verify_stripe,
)

BODY = b'{"event":"call_ended"}'


def test_retell_matches_the_sdk_test_vector() -> None:
    header = sign_retell(BODY, "test-api-key", 1700000000000)
    assert header == (
        "v=1700000000000,d=07024cabe7dd8f6d1c6e4a8324ca92c812e6ad4a7ee506c04f7e462e3321823e"
    )
    verify_retell(BODY, header, ["test-api-key"], now_ms=1700000000000 + 299_000)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("v=1700000000000", "malformed"),
        ("v=1700000000000,d=XYZ", "malformed"),
        ("d=07024cabe7dd8f6d1c6e4a8324ca92c812e6ad4a7ee506c04f7e462e3321823e,v=1", "malformed"),
    ],
)
def test_retell_rejects_missing_and_malformed_headers(header: str | None, reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        verify_retell(BODY, header, ["test-api-key"], now_ms=1700000000000)


def test_retell_rejects_stale_future_tampered_and_wrong_secret() -> None:
    header = sign_retell(BODY, "test-api-key", 1700000000000)
    with pytest.raises(SignatureError, match="tolerance"):
        verify_retell(BODY, header, ["test-api-key"], now_ms=1700000000000 + 301_000)
    with pytest.raises(SignatureError, match="tolerance"):
        verify_retell(BODY, header, ["test-api-key"], now_ms=1700000000000 - 301_000)
    with pytest.raises(SignatureError, match="does not match"):
        verify_retell(BODY + b" ", header, ["test-api-key"], now_ms=1700000000000)
    with pytest.raises(SignatureError, match="does not match"):
        verify_retell(BODY, header, ["other-key"], now_ms=1700000000000)


def test_every_scheme_accepts_either_of_two_rotating_secrets() -> None:
    secrets = split_secrets("old-secret, new-secret")
    assert secrets == ["old-secret", "new-secret"]
    for secret in secrets:
        verify_retell(BODY, sign_retell(BODY, secret), secrets)
        verify_calcom(BODY, sign_calcom(BODY, secret), secrets)
        verify_stripe(BODY, sign_stripe(BODY, secret), secrets)


def test_calcom_refuses_unsigned_when_a_secret_is_configured() -> None:
    with pytest.raises(SignatureError, match="no signature"):
        verify_calcom(BODY, "no-secret-provided", ["secret"])
    with pytest.raises(SignatureError, match="does not match"):
        verify_calcom(BODY, sign_calcom(BODY, "wrong"), ["secret"])
    with pytest.raises(SignatureError, match="malformed"):
        verify_calcom(BODY, "sha256=" + sign_calcom(BODY, "secret"), ["secret"])


def test_stripe_rejects_stale_tampered_and_missing() -> None:
    stale = sign_stripe(BODY, "whsec_x", int(time.time()) - 301)
    with pytest.raises(SignatureError):
        verify_stripe(BODY, stale, ["whsec_x"])
    with pytest.raises(SignatureError):
        verify_stripe(BODY + b"x", sign_stripe(BODY, "whsec_x"), ["whsec_x"])
    with pytest.raises(SignatureError, match="missing"):
        verify_stripe(BODY, None, ["whsec_x"])
    with pytest.raises(SignatureError):
        verify_stripe(BODY, "t=abc,v1=zz", ["whsec_x"])


def test_stripe_signature_is_the_documented_hmac_of_timestamp_dot_body() -> None:
    expected = hmac.new(b"whsec_x", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert sign_stripe(BODY, "whsec_x", 1700000000) == f"t=1700000000,v1={expected}"


def _verify_header_before_15_6(
    payload: bytes | str, header: str, secret: str, tolerance: int | None = None
) -> bool:
    """What stripe 11.0 to 15.5.x's ``verify_header`` does with its payload: ``"%d.%s"``
    interpolation, so ``bytes`` are signed as their ``repr`` (15.6.0 added the decode)."""
    items = dict(item.split("=", 1) for item in header.split(","))
    signed = "%d.%s" % (int(items["t"]), payload)  # noqa: UP031 - the library's own code
    expected = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, items["v1"]):
        raise stripe.SignatureVerificationError("No signatures found", header, payload)
    return True


def test_stripe_verifies_genuine_events_on_libraries_that_need_a_str_payload(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stripe.WebhookSignature, "verify_header", _verify_header_before_15_6)
    verify_stripe(BODY, sign_stripe(BODY, "whsec_x"), ["whsec_x"])
    with pytest.raises(SignatureError):
        verify_stripe(BODY + b"x", sign_stripe(BODY, "whsec_x"), ["whsec_x"])


def test_stripe_body_that_is_not_utf8_is_refused_with_a_reason() -> None:
    body = b"\xff\xfe"
    with pytest.raises(SignatureError, match="not UTF-8"):
        verify_stripe(body, sign_stripe(body, "whsec_x"), ["whsec_x"])


def test_nothing_verifies_without_a_configured_secret() -> None:
    with pytest.raises(SignatureError, match="no signing secret"):
        verify_calcom(BODY, sign_calcom(BODY, "x"), [])
