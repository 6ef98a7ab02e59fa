"""The sandbox as an ASGI application: Back Market's /ws/ API plus /_sandbox/."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from sandbox import admin, routes
from sandbox.config import SandboxConfig
from sandbox.errors import ApiError
from sandbox.gateway import Gateway
from sandbox.market import MarketSimulator
from sandbox.state import SandboxState


def create_app(config: SandboxConfig) -> FastAPI:
    """A fresh sandbox: state at `app.state.sandbox`, market at `app.state.market`."""
    state = SandboxState(config)
    market = MarketSimulator(state)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if state.config.market.enabled:
            market.start()
        try:
            yield
        finally:
            await market.stop()

    app = FastAPI(
        title="Back Market sandbox",
        lifespan=lifespan,
        docs_url="/_sandbox/docs",
        openapi_url="/_sandbox/openapi.json",
        redoc_url=None,
    )
    app.state.sandbox = state
    app.state.market = market
    app.include_router(routes.router)
    app.include_router(admin.router)
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_middleware(Gateway, state=state)
    return app


async def _api_error(_: Request, error: ApiError) -> Response:
    if error.empty:
        return Response(status_code=error.status)
    return JSONResponse(error.body, status_code=error.status)
