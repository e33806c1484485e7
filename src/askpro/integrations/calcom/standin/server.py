"""Serve the stand-in with uvicorn in a background thread (tests, benchmarks)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field

import uvicorn

from askpro.integrations.calcom.standin.app import create_standin_app
from askpro.integrations.calcom.standin.state import STANDIN_API_KEY, StandinState


@dataclass
class RunningStandin:
    base_url: str
    state: StandinState
    api_key: str = STANDIN_API_KEY
    _server: uvicorn.Server | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)


def start_standin(state: StandinState | None = None) -> RunningStandin:
    """Start the stand-in on a free 127.0.0.1 port; returns once it accepts connections."""
    state = state or StandinState()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_standin_app(state),
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="calcom-standin", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the Cal.com stand-in did not start")
        time.sleep(0.01)
    return RunningStandin(f"http://127.0.0.1:{port}", state, _server=server, _thread=thread)
