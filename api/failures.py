"""Answers for the exceptions no endpoint expects: a JSON `detail`, one log line.

A database that cannot be reached is answered 503, so the caller tries again; any
other exception is a bug, answered 500. Neither answer nor log line holds what the
request sent.
"""

import logging
import traceback

import psycopg
from fastapi import status
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

DATABASE_UNREACHABLE = "the database cannot be reached just now; try again"
UNEXPECTED = "the request failed on an unexpected error; it has been logged"

# Connection failures, and the server going away mid-request, come as these.
_UNREACHABLE = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)


class AnswerFailures:
    """ASGI middleware that answers an unhandled exception itself.

    Starlette's own last resort answers plain text and hands the exception on to
    the server, which logs it with its message: a message may quote what the
    request sent (a failed statement's parameters, a model's input).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        answering = False

        async def watched_send(message: Message) -> None:
            nonlocal answering
            answering = answering or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except Exception as exc:
            if answering:
                # Half an answer is out; only the server can end the connection.
                raise
            response = _answer(scope, exc)
            await response(scope, receive, send)


def _answer(scope: Scope, exc: Exception) -> JSONResponse:
    where = {
        "method": scope.get("method"),
        # The route's template, not the path: a path holds an account's name.
        "route": getattr(scope.get("route"), "path", None),
        "error_class": type(exc).__name__,
    }
    if isinstance(exc, _UNREACHABLE):
        log.warning("database unreachable, answered 503", extra=where)
        return JSONResponse(
            {"detail": DATABASE_UNREACHABLE}, status.HTTP_503_SERVICE_UNAVAILABLE
        )
    # The frames without the exception's message, which may quote the request; in
    # the message itself, so the fields come before the frames on the first line.
    frames = "".join(traceback.format_tb(exc.__traceback__)).rstrip()
    log.error(
        "unexpected %s on %s %s, answered 500\n%s",
        where["error_class"],
        where["method"],
        where["route"],
        frames,
    )
    return JSONResponse({"detail": UNEXPECTED}, status.HTTP_500_INTERNAL_SERVER_ERROR)
