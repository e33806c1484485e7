"""The documentation's commands, copy-pasted and run against a live demo server.

One ``askpro serve`` (what ``make run`` runs) on its own data directory; every command is
run from another directory, so the README's promise that the commands find the same data
from anywhere is tested too. The only rewriting is of where things are: ``askpro`` and
``.venv/bin/askpro`` become this checkout's executable, and port 8000 becomes the test
server's (``ASKPRO_SERVER_URL`` for the commands that talk to it).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.fixtures.processes import (
    ASKPRO,
    ROOT,
    askpro_environment,
    free_port,
    start_serve,
    stop,
    wait_healthy,
)

pytestmark = pytest.mark.slow

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
COMMAND_START = re.compile(r"^(make |askpro |\.venv/bin/askpro |curl |export )")

# Commands that cannot run inside a test, and why. Keep this list short.
SKIPPED = {
    "make run": "this test runs its server itself (`askpro serve`, which is what it runs)",
    "make test": "the test suite itself",
    "export ASKPRO_DATABASE_URL=postgresql://askpro:secret@db.internal:5432/askpro": (
        "an example production host that does not exist here"
    ),
    "export ASKPRO_REDIS_URL=redis://cache.internal:6379/0": (
        "an example production host that does not exist here"
    ),
    ".venv/bin/askpro serve --no-worker --no-demo --host 0.0.0.0": (
        "a second server on port 8000 and every interface"
    ),
    ".venv/bin/askpro serve --no-worker --no-demo --host 0.0.0.0 --port 8000": (
        "a second server on port 8000 and every interface"
    ),
    ".venv/bin/python -m askpro.ops.cluster --web 2 --workers 2": (
        "a whole cluster of processes until Ctrl-C; tests/cluster runs it (ASKPRO_TEST_CLUSTER=1)"
    ),
    ".venv/bin/python -m askpro.ops.cluster --web 4 --workers 2 --database-url "
    "postgresql://postgres@127.0.0.1:5432/askpro --redis-url redis://127.0.0.1:6379/0": (
        "a whole cluster of processes until Ctrl-C; tests/cluster runs it (ASKPRO_TEST_CLUSTER=1)"
    ),
    ".venv/bin/askpro simulate call --base-url http://127.0.0.1:PORT1,http://127.0.0.1:PORT2 "
    "--key askpro-cluster-retell-key --calls 200 --concurrency 10": (
        "the ports of a running cluster; tests/cluster/test_soak.py plays these 200 calls"
    ),
    ".venv/bin/askpro perf monitor --live": (
        "a full-screen display until Ctrl-C; tests/ops/perf runs it in a pseudo-terminal"
    ),
    ".venv/bin/askpro perf monitor --slow-queries": (
        "needs pg_stat_statements preloaded (a server restart); without it the command says so "
        "and exits 1 — tests/ops/perf/test_monitor.py runs both cases on a private server"
    ),
    ".venv/bin/askpro perf seed --appointments 1000000 --database askpro_perf": (
        "about three minutes; tests/ops/perf/test_seed.py seeds a small database"
    ),
    ".venv/bin/askpro perf monitor --report report.json --database askpro_perf": (
        "reads the seeded database of the line before"
    ),
    ".venv/bin/askpro perf seed --appointments 100000 --companies 1 --webhook-events 100000 "
    "--database-url postgresql://user@db.internal:5432/askpro_perf": (
        "an example production host that does not exist here"
    ),
    'curl -sX POST http://127.0.0.1:8000/api/v1/webhook-endpoints -H "Authorization: Bearer '
    "$TOKEN\" -H 'content-type: application/json' -d '{\"url\": "
    '"https://crm.example.com/hooks/askpro", "event_types": ["appointment.booked", '
    '"message.taken"]}\'': (
        "needs a token of yours; tests/api/test_webhook_endpoints_api.py registers endpoints"
    ),
    "askpro events list --company 7 --endpoint 3 --status failed": (
        "needs a registered endpoint; tests/outbound/test_cli.py lists and replays deliveries"
    ),
    "askpro events replay --company 7 --endpoint 3 --status failed --since 2h": (
        "needs a registered endpoint; tests/outbound/test_cli.py lists and replays deliveries"
    ),
}
# Commands that run until stopped: they must start, stay up and stop cleanly on SIGTERM.
LONG_RUNNING = {
    ".venv/bin/askpro worker --concurrency 8",
    ".venv/bin/askpro worker --concurrency 4",
}
# The worker processes webhooks after they are acknowledged, so a command about their
# effect (a balance, a replay of an event still in flight) may need a moment.
SETTLE_SECONDS = 20.0


@dataclass(frozen=True)
class Example:
    document: str
    command: str


def documented_commands() -> list[Example]:
    """Every line of every ``sh`` block in the README and docs/, in document order."""
    examples = []
    for document in DOCUMENTS:
        for language, body in FENCE.findall(document.read_text(encoding="utf-8")):
            # A line ending in a backslash continues on the next, as in the shell.
            joined = re.sub(r"\\\n\s*", "", body)
            lines = [line.strip() for line in joined.splitlines() if line.strip()]
            if language != "sh":
                hidden = [line for line in lines if COMMAND_START.match(line)]
                assert not hidden, f"{document.name}: commands outside an sh block: {hidden}"
                continue
            for line in lines:
                if not line.startswith("#"):
                    examples.append(Example(document.name, line))
    return examples


def without_comment(command: str) -> str:
    return re.sub(r"\s+#\s.*$", "", command).strip()


@dataclass(frozen=True)
class DemoServer:
    port: int
    data_dir: Path
    elsewhere: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        return askpro_environment(self.data_dir, ASKPRO_SERVER_URL=self.url, COLUMNS="200")

    def shell(self, command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run a documented command as a user would, from another directory."""
        command = re.sub(r"(?<![\w/.])(\.venv/bin/)?askpro(?= )", ASKPRO, command)
        command = re.sub(r"(localhost|127\.0\.0\.1):8000", f"127.0.0.1:{self.port}", command)
        return subprocess.run(
            ["bash", "-c", command],
            env=self.environment(),
            cwd=self.elsewhere,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def askpro_json(self, *arguments: str) -> object:
        result = subprocess.run(
            [ASKPRO, *arguments, "--json"],
            env=self.environment(),
            cwd=self.elsewhere,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    data_dir = tmp_path_factory.mktemp("demo-data")
    elsewhere = tmp_path_factory.mktemp("somewhere-else")
    port = free_port()
    process = start_serve(data_dir, port, cwd=elsewhere)
    try:
        wait_healthy(process, port)
        yield DemoServer(port, data_dir, elsewhere)
    finally:
        stop(process)
    assert not (elsewhere / "var").exists(), "nothing was created in the current directory"


def settle(server: DemoServer) -> None:
    """Wait until the worker has processed every received webhook."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        events = server.askpro_json("webhooks", "list", "--limit", "1000")
        assert isinstance(events, list)
        if all(event["status"] not in ("received", "processing") for event in events):
            return
        time.sleep(0.3)


def run_long_running(server: DemoServer, command: str) -> str | None:
    process = subprocess.Popen(
        ["bash", "-c", "exec " + command.replace(".venv/bin/askpro", ASKPRO, 1)],
        env=server.environment(),
        cwd=server.elsewhere,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    time.sleep(5)
    if process.poll() is not None:
        return f"exited early ({process.returncode}): {process.communicate()[0]}"
    output = stop(process, signal.SIGTERM)
    return None if process.returncode == 0 else f"exit {process.returncode} on SIGTERM: {output}"


def test_every_command_in_the_readme_and_docs_runs_against_a_live_demo_server(
    demo_server: DemoServer,
) -> None:
    examples = documented_commands()
    assert len(examples) > 30, "the parser finds the documented commands"
    failures = []
    for example in examples:
        command = without_comment(example.command)
        if command in SKIPPED:
            continue
        if command in LONG_RUNNING:
            problem = run_long_running(demo_server, command)
            if problem:
                failures.append(f"{example.document}: {command}: {problem}")
            continue
        deadline = time.monotonic() + SETTLE_SECONDS
        result = demo_server.shell(example.command)
        while result.returncode != 0 and time.monotonic() < deadline:
            time.sleep(0.5)
            result = demo_server.shell(example.command)
        if result.returncode != 0 or "Traceback" in result.stderr:
            failures.append(
                f"{example.document}: {command} -> {result.returncode}\n"
                f"{result.stdout[-800:]}{result.stderr[-800:]}"
            )
    unused = set(SKIPPED) - {without_comment(e.command) for e in examples}
    assert not unused, f"skip-list entries no document has any more: {unused}"
    assert not failures, "\n\n".join(failures)


def test_every_packaged_webhook_sample_is_accepted_and_processed_by_the_demo_server(
    demo_server: DemoServer,
) -> None:
    samples = demo_server.askpro_json("simulate", "samples")
    assert isinstance(samples, dict)
    assert set(samples) == {"retell", "calcom", "stripe"}
    before = demo_server.askpro_json("webhooks", "list", "--limit", "1000")
    assert isinstance(before, list)
    for provider, names in samples.items():
        for name in names:
            result = demo_server.shell(f"askpro simulate webhook {provider} {name}")
            assert result.returncode == 0, (provider, name, result.stdout, result.stderr)
    settle(demo_server)
    after = demo_server.askpro_json("webhooks", "list", "--limit", "1000")
    assert isinstance(after, list)
    new = [event for event in after if event["id"] not in {e["id"] for e in before}]
    # call_inbound is answered synchronously and stored as processed too.
    assert len(new) == sum(len(names) for names in samples.values())
    outcomes = {(event["provider"], event["event_type"]): event["status"] for event in new}
    assert all(status in ("processed", "ignored") for status in outcomes.values()), outcomes


def test_a_stripe_checkout_sample_tops_up_the_demo_company(demo_server: DemoServer) -> None:
    before = demo_server.askpro_json("billing", "balance", "1")
    assert isinstance(before, dict)
    result = demo_server.shell("askpro simulate webhook stripe checkout.session.completed")
    assert result.returncode == 0, result.stderr
    settle(demo_server)
    after = demo_server.askpro_json("billing", "balance", "1")
    assert isinstance(after, dict)
    assert after["company_balance_cents"] == before["company_balance_cents"] + 2000


def test_calcom_health_of_the_cli_and_of_the_demo_server_agree(demo_server: DemoServer) -> None:
    served = httpx.get(f"{demo_server.url}/api/health/calcom", timeout=10).json()
    reported = demo_server.askpro_json("calcom", "health")
    assert isinstance(reported, dict)
    assert reported["status"] == served["status"] == "ok"
    assert [a["companies"] for a in reported["accounts"]] == [
        a["companies"] for a in served["accounts"]
    ]
    assert [1] in [a["companies"] for a in served["accounts"]], "the demo company is listed"
    warmed = demo_server.shell("askpro calcom warm-cache --company 1 --days 1")
    assert warmed.returncode == 0, warmed.stderr
    assert "skipped" not in warmed.stderr
    assert re.search(r"cached [1-9]\d* slot ranges", warmed.stdout), warmed.stdout
