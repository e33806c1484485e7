"""Our signatures are Standard Webhooks signatures: the reference library verifies them."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from askpro.outbound import signing

BODY = json.dumps({"type": "appointment.booked", "data": {"appointment_id": 7}}).encode()


def _headers(secrets: list[str], at: dt.datetime | None = None) -> dict[str, str]:
    moment = at or dt.datetime.now(dt.UTC)
    return signing.headers(secrets, "msg_test", int(moment.timestamp()), BODY)


def test_the_reference_library_accepts_our_signature() -> None:
    secret = signing.new_secret()
    assert secret.startswith("whsec_")
    verified = Webhook(secret).verify(BODY, _headers([secret]))
    assert verified == json.loads(BODY)


def test_a_tampered_body_fails_verification() -> None:
    secret = signing.new_secret()
    headers = _headers([secret])
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"7", b"8"), headers)


def test_a_stale_timestamp_fails_verification() -> None:
    secret = signing.new_secret()
    headers = _headers([secret], dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10))
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(BODY, headers)


def test_another_secret_fails_verification() -> None:
    headers = _headers([signing.new_secret()])
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(BODY, headers)


def test_during_a_rotation_both_secrets_verify() -> None:
    old, new = signing.new_secret(), signing.new_secret()
    headers = _headers([new, old])
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(BODY, headers)
