"""`bmsync up` as a person runs it: ready with the UI answering, stopped by Ctrl-C
with nothing left behind, and started again on the data of the first run."""

import asyncio
import os
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
from sqlalchemy import create_engine, text
from temporalio.client import Client

from runtime.embedded import EmbeddedPostgres, venv_binary
from tests.processes import embedded_env

pytestmark = [pytest.mark.devserver, pytest.mark.timeout(420)]

READY_TIMEOUT_S = 150


@pytest.fixture
def up_env(tmp_path: Path) -> dict[str, str]:
    return embedded_env(
        tmp_path / "state",
        "BMSYNC_TEMPORAL_PORT",
        "BMSYNC_TEMPORAL_UI_PORT",
        "BMSYNC_SANDBOX_PORT",
        "BMSYNC_CODEC_PORT",
    )


@contextmanager
def bmsync_up(env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """Run `bmsync up` until it says ready; interrupt it like Ctrl-C on leaving."""
    with ready_up(env) as (process, output):
        yield process
        process.send_signal(signal.SIGINT)
        code = process.wait(90)
        assert code == 0, "".join(output)


@contextmanager
def ready_up(
    env: dict[str, str],
) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """`bmsync up` once it says ready, and its output so far and to come; killed,
    and what it left stopped, if it still runs on leaving."""
    process = subprocess.Popen(
        [str(venv_binary("bmsync")), "up"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if line.strip() == "ready":
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not ready.wait(READY_TIMEOUT_S):
            raise AssertionError("bmsync up never got ready:\n" + "".join(output))
        yield process, output
        if process.poll() is not None:
            reader.join(5)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            # What a killed `bmsync up` left running, `bmsync down` stops.
            subprocess.run(
                [str(venv_binary("bmsync")), "down"], env=env, timeout=60, check=False
            )


def status_check(env: dict[str, str]) -> int:
    """The exit code of `bmsync status --check`, the containers' health check."""
    return subprocess.run(
        [str(venv_binary("bmsync")), "status", "--check"],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    ).returncode


def leftovers(state_dir: Path) -> list[str]:
    """Processes still running on the state directory."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(state_dir) in cmdline:
            found.append(f"{proc.info['pid']}: {cmdline}")
    return found


def one_value(state_dir: Path, query: str) -> object:
    """One value from the embedded Postgres of the state directory."""
    url = EmbeddedPostgres(state_dir / "postgres").url()
    assert url is not None, "Postgres is not running"
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(query)).scalar_one()
    finally:
        engine.dispose()


def sandbox_account_created_at(state_dir: Path) -> object:
    return one_value(
        state_dir, "SELECT created_at FROM accounts WHERE name = 'sandbox'"
    )


def listings_flagged_foreign(state_dir: Path) -> object:
    return one_value(
        state_dir, "SELECT count(*) FROM listings WHERE foreign_write_at IS NOT NULL"
    )


def temporal_workflows(env: dict[str, str]) -> set[str]:
    """The ids of every workflow the embedded Temporal keeps."""

    async def listed() -> set[str]:
        client = await Client.connect(f"127.0.0.1:{env['BMSYNC_TEMPORAL_PORT']}")
        return {execution.id async for execution in client.list_workflows()}

    return asyncio.run(listed())


def test_up_is_ready_stops_cleanly_and_comes_back_on_its_data(
    up_env: dict[str, str],
) -> None:
    state_dir = Path(up_env["BMSYNC_STATE_DIR"])
    ui = f"http://127.0.0.1:{up_env['BMSYNC_TEMPORAL_UI_PORT']}"

    with bmsync_up(up_env):
        with urllib.request.urlopen(ui, timeout=10) as answer:
            assert answer.status == 200
        created_at = sandbox_account_created_at(state_dir)
        first_workflows = temporal_workflows(up_env)
        healthy = status_check(up_env)
    assert leftovers(state_dir) == []
    assert healthy == 0 and status_check(up_env) == 1
    assert EmbeddedPostgres(state_dir / "postgres").running_pid() is None

    with bmsync_up(up_env):
        assert sandbox_account_created_at(state_dir) == created_at
        later_workflows = temporal_workflows(up_env)
        # The new sandbox holds other quantities; that is no other system's doing.
        flagged = listings_flagged_foreign(state_dir)
    time.sleep(0.5)
    assert leftovers(state_dir) == []

    assert flagged == 0
    assert first_workflows, "the first run left no workflow history"
    assert first_workflows <= later_workflows


def test_up_stops_the_rest_and_fails_when_its_temporal_dies(
    up_env: dict[str, str],
) -> None:
    state_dir = Path(up_env["BMSYNC_STATE_DIR"])
    temporal_dir = state_dir / "temporal"

    with ready_up(up_env) as (process, output):
        temporal = int((temporal_dir / "temporal.pid").read_text())
        os.killpg(temporal, signal.SIGKILL)
        # Well before the worker's grace period: nothing is left to finish.
        code = process.wait(25)
    said = [line for line in output if "the embedded Temporal" in line]

    assert code == 1, "".join(output)
    assert said == [
        f"error: the embedded Temporal (pid {temporal}) was killed by SIGKILL (its "
        f"log: {temporal_dir / 'temporal.log'}); stopping the rest\n"
    ]
    assert leftovers(state_dir) == []
    assert EmbeddedPostgres(state_dir / "postgres").running_pid() is None
