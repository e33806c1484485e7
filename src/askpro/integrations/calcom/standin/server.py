"""Serve the stand-in with uvicorn in a background thread (tests, benchmarks)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import uvicorn
from starlette.types import ASGIApp

from askpro.integrations.calcom.standin.app import create_standin_app
from askpro.integrations.calcom.standin.state import STANDIN_API_KEY, StandinState


@dataclass
class RunningStandin:
    base_url: str
    state: StandinState
    api_key: str = STANDIN_API_KEY
    _served: ServedApp | None = field(default=None, repr=False)

    def stop(self) -> None:
        if self._served is not None:
            self._served.stop()


@dataclass
class ServedApp:
    base_url: str
    port: int
    server: uvicorn.Server = field(repr=False)
    thread: threading.Thread = field(repr=False)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def serve_in_thread(make_app: Callable[[int], ASGIApp]) -> ServedApp:
    """Serve ``make_app(port)`` with uvicorn on a free 127.0.0.1 port in a daemon thread;
    returns once it accepts connections."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        make_app(port),
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="askpro-test-server", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    return ServedApp(f"http://127.0.0.1:{port}", port, server, thread)


def start_standin(state: StandinState | None = None) -> RunningStandin:
    """Start the stand-in on a free 127.0.0.1 port; returns once it accepts connections."""
    state = state or StandinState()
    served = serve_in_thread(lambda _port: create_standin_app(state))
    return RunningStandin(served.base_url, state, _served=served)
