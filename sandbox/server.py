"""Serving the sandbox over real HTTP with uvicorn, in-process or from the CLI."""

import uvicorn

from runtime.background_server import BackgroundServer
from sandbox.app import create_app
from sandbox.config import SandboxConfig
from sandbox.state import SandboxState


class SandboxServer(BackgroundServer):
    """Runs the sandbox on the current event loop for the span of an `async with`."""

    def __init__(
        self, config: SandboxConfig, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        app = create_app(config)
        super().__init__(app, host, port)
        self.state: SandboxState = app.state.sandbox

    async def __aenter__(self) -> "SandboxServer":
        await super().__aenter__()
        return self


def run(config: SandboxConfig, host: str = "127.0.0.1", port: int = 8700) -> None:
    """Serve the sandbox until interrupted."""
    uvicorn.run(create_app(config), host=host, port=port, log_level="info")
