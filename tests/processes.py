"""What tests that run `bmsync` as a separate process share: free ports, and an
environment that points every embedded part at a state directory of the test's."""

import os
import socket
from pathlib import Path

from tests.conftest import PAYLOAD_KEY

# Where these are set, a command would use the configured server, not its own.
CONFIGURED_PARTS = {"DATABASE_URL", "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def embedded_env(state_dir: Path, *port_variables: str) -> dict[str, str]:
    """This process's environment with embedded parts kept in `state_dir`, a free
    port for each of `port_variables` and the tests' payload key."""
    env = {
        key: value for key, value in os.environ.items() if key not in CONFIGURED_PARTS
    }
    env.update(
        {variable: str(free_port()) for variable in port_variables},
        BMSYNC_STATE_DIR=str(state_dir),
        BMSYNC_PAYLOAD_KEY=PAYLOAD_KEY,
    )
    return env
