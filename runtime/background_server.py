"""Serving an ASGI app with uvicorn on the current event loop, beside other work."""

import asyncio
import contextlib
import socket
from collections.abc import Generator
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp


class BackgroundServer:
    """Serves `app` for the span of an `async with`; port 0 picks a free port."""

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server = _QuietServer(
            uvicorn.Config(
                app, host=host, port=port, log_level="warning", lifespan="on"
            )
        )
        self._socket: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def base_url(self) -> str:
        """Where clients reach the app, without a trailing slash."""
        return f"http://{self.host}:{self.port}"

    def stopped(self) -> str | None:
        """How the server stopped serving before it was asked to; None while it
        serves."""
        if self._task is None or not self._task.done() or self._server.should_exit:
            return None
        error = None if self._task.cancelled() else self._task.exception()
        return "stopped" if error is None else f"stopped ({type(error).__name__})"

    async def __aenter__(self) -> "BackgroundServer":
        # Binding ourselves gives the real port at once when asked for port 0.
        self._socket = socket.create_server((self.host, self.port))
        self.port = self._socket.getsockname()[1]
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        while not self._server.started:
            if self._task.done():
                await self._task
                raise RuntimeError("the server stopped while starting")
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


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves the host process's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield
