"""Where a command keeps its embedded parts when BMSYNC_STATE_DIR is unset: the
nearest `.bmsync` up from the current directory, and a new one said out loud."""

import os
import subprocess
from pathlib import Path

import pytest

from runtime.embedded import venv_binary

pytestmark = pytest.mark.timeout(240)


def bmsync(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "BMSYNC_STATE_DIR", "TEMPORAL_ADDRESS"}
    }
    return subprocess.run(
        [str(venv_binary("bmsync")), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_a_command_in_a_subdirectory_uses_the_state_dir_above_it(
    tmp_path: Path,
) -> None:
    if any((folder / ".bmsync").is_dir() for folder in tmp_path.parents):
        pytest.skip(f"a .bmsync above {tmp_path} would be found first")
    project = tmp_path / "project"
    deeper = project / "stock" / "incoming"
    deeper.mkdir(parents=True)

    first = bmsync(project, "catalog", "seed-sample")
    again = bmsync(deeper, "catalog", "seed-sample")

    assert first.returncode == 0, first.stderr
    assert again.returncode == 0, again.stderr
    assert first.stderr.splitlines() == [
        f"note: creating a new embedded Postgres in {project / '.bmsync' / 'postgres'}"
        "; to use another, set BMSYNC_STATE_DIR to the state directory that holds "
        "it, or DATABASE_URL"
    ]
    assert again.stderr == ""
    # The samples are in the database of the project's state directory already.
    assert first.stdout.split()[0] != "0"
    assert again.stdout.strip() == "0 sample SKU(s) created"
    assert not (deeper / ".bmsync").exists()
