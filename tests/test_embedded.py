"""The embedded parts: started once, reused, stopped, started again, clear errors."""

import os
import socket
import subprocess
from pathlib import Path

import psycopg
import pytest

from runtime.embedded import (
    EmbeddedPostgres,
    EmbeddedTemporal,
    StartError,
    port_is_free,
)
from tests.processes import free_port


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_started_once_reused_and_stopped_with_its_history(
    tmp_path: Path,
) -> None:
    port, ui_port = free_port(), free_port()
    first = EmbeddedTemporal(tmp_path, port=port, ui_port=ui_port, namespace="default")
    await first.start()
    try:
        assert first.started_here
        pid = int(first.pid_file.read_text())
        second = EmbeddedTemporal(
            tmp_path, port=port, ui_port=ui_port, namespace="default"
        )
        await second.start()
        assert not second.started_here
        second.stop()
        assert await first.is_serving()
    finally:
        first.stop()

    assert not process_alive(pid)
    assert port_is_free(port)
    assert (tmp_path / "temporal.db").exists()


async def test_a_port_taken_by_something_else_is_a_clear_error(
    tmp_path: Path,
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        temporal = EmbeddedTemporal(
            tmp_path, port=port, ui_port=free_port(), namespace="default"
        )
        with pytest.raises(StartError, match=f"port {port} is taken"):
            await temporal.start()
    assert not temporal.pid_file.exists()


def test_a_stopped_postgres_starts_again_in_the_same_process(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "data")
    first_url = server.start()
    try:
        server.stop()
        assert server.running_pid() is None

        assert server.start() == first_url
        with psycopg.connect(first_url.replace("+psycopg", "")) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        server.stop()
    assert server.running_pid() is None


def test_a_pid_file_naming_another_process_names_no_server(tmp_path: Path) -> None:
    # What a pid file left by a crash names after a reboot: someone else's process.
    other = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        temporal = EmbeddedTemporal(
            tmp_path / "temporal",
            port=free_port(),
            ui_port=free_port(),
            namespace="default",
        )
        temporal.state_dir.mkdir()
        temporal.pid_file.write_text(str(other.pid))
        postgres = EmbeddedPostgres(tmp_path / "postgres")
        postgres.data_dir.mkdir()
        (postgres.data_dir / "postmaster.pid").write_text(f"{other.pid}\n")

        assert temporal.owner_pid() is None
        assert postgres.running_pid() is None
        assert postgres.url() is None
    finally:
        other.kill()
        other.wait()
