"""Deliveries never reach private targets: refused after DNS, before any connection.

The HTTP client here has a transport that records every request it would send, so each
test shows that a refused target got no request at all; nothing leaves this process.
"""

from __future__ import annotations

import httpx
import pytest

from askpro.outbound.transport import TargetRefused, check_url, post

PUBLIC = "93.184.216.34"


class Recorder:
    """Stands in for the network: records each request, answers ``status`` (with headers)."""

    def __init__(self, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.status = status
        self.headers = headers or {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, headers=self.headers, content=b"ok")


def _resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        return table[host]

    return resolve


async def _post(url: str, recorder: Recorder, table: dict[str, list[str]], **options: bool):
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        return await post(client, url, b"{}", {}, resolver=_resolver(table), **options)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hooks",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.1/hooks",
        "https://[::1]/hooks",
        "https://localhost/hooks",
    ],
)
async def test_private_address_literals_are_refused_before_connecting(url: str) -> None:
    recorder = Recorder()
    with pytest.raises(TargetRefused):
        await _post(url, recorder, {})
    assert recorder.requests == []
    with pytest.raises(TargetRefused):
        check_url(url, allow_local=False)


@pytest.mark.parametrize("address", ["127.0.0.1", "169.254.169.254", "10.0.0.1", "::ffff:10.0.0.1"])
async def test_a_name_resolving_to_a_private_address_is_refused(address: str) -> None:
    recorder = Recorder()
    with pytest.raises(TargetRefused, match=address):
        await _post("https://hooks.example.com/x", recorder, {"hooks.example.com": [address]})
    assert recorder.requests == []


async def test_one_private_address_among_public_ones_is_refused() -> None:
    recorder = Recorder()
    table = {"hooks.example.com": [PUBLIC, "10.0.0.1"]}
    with pytest.raises(TargetRefused):
        await _post("https://hooks.example.com/x", recorder, table)
    assert recorder.requests == []


async def test_a_public_name_is_called_at_the_checked_address_with_its_host_name() -> None:
    recorder = Recorder()
    exchange = await _post("https://hooks.example.com/x", recorder, {"hooks.example.com": [PUBLIC]})
    assert exchange.status_code == 200
    (request,) = recorder.requests
    assert request.url.host == PUBLIC  # pinned: no second DNS answer can swap the address
    assert request.headers["host"] == "hooks.example.com"
    assert request.extensions["sni_hostname"] == "hooks.example.com"


async def test_http_is_refused_outside_test_mode() -> None:
    with pytest.raises(TargetRefused, match="https"):
        check_url("http://hooks.example.com/x", allow_local=False)
    check_url("http://127.0.0.1:9/x", allow_local=True)


async def test_redirects_are_not_followed_by_default() -> None:
    recorder = Recorder(302, {"location": "https://10.0.0.1/internal"})
    exchange = await _post("https://hooks.example.com/x", recorder, {"hooks.example.com": [PUBLIC]})
    assert exchange.status_code == 302  # recorded as a failed attempt, nothing followed
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    "location", ["https://10.0.0.1/internal", "https://169.254.169.254/", "https://inside.test/"]
)
async def test_a_followed_redirect_to_a_private_target_is_refused(location: str) -> None:
    recorder = Recorder(307, {"location": location})
    table = {"hooks.example.com": [PUBLIC], "inside.test": ["127.0.0.1"]}
    with pytest.raises(TargetRefused):
        await _post("https://hooks.example.com/x", recorder, table, follow_redirects=True)
    assert [str(request.url.host) for request in recorder.requests] == [PUBLIC]
