"""Serving the sandbox over real HTTP with uvicorn, in-process or from the CLI."""

import asyncio
import contextlib
import socket
from collections.abc import Generator
from types import TracebackType

import uvicorn

from sandbox.app import create_app
from sandbox.config import SandboxConfig
from sandbox.state import SandboxState


class SandboxServer:
    """Runs the sandbox on the current event loop for the span of an `async with`."""

    def __init__(
        self, config: SandboxConfig, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.app = create_app(config)
        self.state: SandboxState = self.app.state.sandbox
        self.host = host
        self.port = port
        self._server = _QuietServer(
            uvicorn.Config(
                self.app, host=host, port=port, log_level="warning", lifespan="on"
            )
        )
        self._socket: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def base_url(self) -> str:
        """Where clients reach the sandbox, without a trailing slash."""
        return f"http://{self.host}:{self.port}"

    async def __aenter__(self) -> "SandboxServer":
        # Binding ourselves gives the real port at once when asked for port 0.
        self._socket = socket.create_server((self.host, self.port))
        self.port = self._socket.getsockname()[1]
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        while not self._server.started:
            if self._task.done():
                await self._task
                raise RuntimeError("the sandbox server stopped while starting")
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
        if self._socket is not None:
            self._socket.close()


def run(config: SandboxConfig, host: str = "127.0.0.1", port: int = 8700) -> None:
    """Serve the sandbox until interrupted."""
    uvicorn.run(create_app(config), host=host, port=port, log_level="info")


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves the host process's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield
