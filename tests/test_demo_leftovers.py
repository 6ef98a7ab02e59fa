"""A `bmsync demo` killed with SIGKILL: the next demo, or `bmsync down`, stops what
it left running instead of leaving it on the ports and the wiped data."""

import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from runtime.embedded import EmbeddedPostgres, venv_binary
from tests.processes import embedded_env

pytestmark = [pytest.mark.devserver, pytest.mark.timeout(420)]

STARTED_TIMEOUT_S = 150


def running_on(state_dir: Path) -> list[int]:
    """The pids of processes running on the state directory."""
    return [
        proc.info["pid"]
        for proc in psutil.process_iter(["pid", "cmdline"])
        if str(state_dir) in " ".join(proc.info["cmdline"] or [])
    ]


@pytest.fixture
def demo_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = embedded_env(
        tmp_path / "state",
        "BMSYNC_TEMPORAL_PORT",
        "BMSYNC_TEMPORAL_UI_PORT",
        "BMSYNC_CODEC_PORT",
    )
    env.update(COLUMNS="200")
    yield env
    # Whatever a failing run left behind goes with the test.
    for pid in running_on(tmp_path / "state"):
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def killed_demo(env: dict[str, str]) -> str:
    """Run `bmsync demo` until its account is stocked, then SIGKILL it; its output."""
    process = subprocess.Popen(
        [str(venv_binary("bmsync")), "demo", "--orders", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    stocked = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if "listings stocked" in line:
                stocked.set()
        # A demo that ended on its own will not stock: stop waiting for it.
        stocked.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        stocked.wait(STARTED_TIMEOUT_S)
        if not any("listings stocked" in line for line in output):
            raise AssertionError("the demo never stocked:\n" + "".join(output))
    finally:
        process.kill()
        process.wait()
        reader.join(5)
    return "".join(output)


def bmsync_down(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv_binary("bmsync")), "down"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_killed_demo_is_stopped_by_the_next_demo_and_by_down(
    demo_env: dict[str, str],
) -> None:
    state_dir = Path(demo_env["BMSYNC_STATE_DIR"])
    demo_dir = state_dir / "demo"

    killed_demo(demo_env)
    temporal = int((demo_dir / "temporal" / "temporal.pid").read_text())
    postgres = EmbeddedPostgres(demo_dir / "postgres").running_pid()
    assert postgres is not None and psutil.pid_exists(temporal)

    again = killed_demo(demo_env)
    still_running = set(running_on(state_dir)) & {temporal, postgres}
    down = bmsync_down(demo_env)

    assert (
        f"stopped what an earlier demo left running: temporal (pid {temporal}), "
        f"postgres (pid {postgres})"
    ) in again
    assert still_running == set()
    # The ports the first one held are free again, so the second one took them.
    assert f"127.0.0.1:{demo_env['BMSYNC_TEMPORAL_UI_PORT']}" in again
    assert down.returncode == 0, down.stderr
    assert "temporal (pid" in down.stdout and "postgres (pid" in down.stdout
    assert str(demo_dir) in down.stdout
    assert running_on(state_dir) == []
