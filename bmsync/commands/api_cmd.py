"""`bmsync api`: serve the HTTP API with uvicorn."""

import asyncio
import os
from typing import Annotated

import typer
import uvicorn
from fastapi import FastAPI

from api.app import create_app, token_problem
from bmsync.commands._db import fail, say_new_database
from bmsync.commands.runtime_cmds import setup_logging
from database.session import make_engine, make_session_factory
from runtime.embedded import StartError
from runtime.order_client import OrderClient
from runtime.quantity_client import notify_stock_changed
from runtime.settings import Settings, get_settings
from runtime.stack import Stack

TOKEN_VARIABLE = "BMSYNC_API_TOKEN"
# On a line of its own, so a terminal 80 columns wide does not break it.
MAKE_TOKEN = (
    "make one with\n  python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
)


def register(app: typer.Typer) -> None:
    app.command("api")(serve)


def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8700,
    verbose: bool = False,
) -> None:
    """Serve the HTTP API until Ctrl-C; callers send BMSYNC_API_TOKEN as a bearer."""
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    if not token:
        fail(f"set {TOKEN_VARIABLE} to the token callers must send; {MAKE_TOKEN}")
    problem = token_problem(token)
    if problem is not None:
        fail(f"{TOKEN_VARIABLE} {problem}; {MAKE_TOKEN}")
    setup_logging(verbose)
    try:
        asyncio.run(_serve(get_settings(), token, host, port))
    except StartError as exc:
        fail(str(exc))


async def _serve(settings: Settings, token: str, host: str, port: int) -> None:
    async with Stack(settings, on_new_database=say_new_database) as stack:
        engine = make_engine(stack.database_url)
        client = stack.client

        async def notify_stock(account_ids: list[int]) -> None:
            await notify_stock_changed(
                client, settings.task_queue, account_ids, reason="stock added (API)"
            )

        try:
            app = create_app(
                make_session_factory(engine),
                OrderClient(client, settings.task_queue),
                token,
                notify_stock=notify_stock,
            )
            await uvicorn.Server(server_config(app, host, port)).serve()
        finally:
            engine.dispose()


def server_config(app: FastAPI, host: str, port: int) -> uvicorn.Config:
    """uvicorn's settings for the API, logging through the handlers set up already."""
    # log_config=None keeps the logging set up by setup_logging: uvicorn's own would
    # replace it. Its lines hold a method, a path and a status, never a body.
    return uvicorn.Config(app, host=host, port=port, log_config=None, use_colors=False)
