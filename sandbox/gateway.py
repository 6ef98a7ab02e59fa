"""What stands in front of every /ws/ route: firewall, auth, rate limits, faults, log.

A plain ASGI middleware rather than FastAPI dependencies, because it must answer
without reaching the routes (403, 401, 429, injected 5xx), swallow a route's answer
after the write was applied (lost responses), and see the final status of every write.
"""

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox import limits
from sandbox.config import MerchantConfig
from sandbox.errors import request_id
from sandbox.state import SandboxState

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CONTEXT_KEY = "sandbox.context"


@dataclass
class RequestContext:
    """Who is calling, and whether the route changed anything."""

    merchant: str
    token: str
    applied: bool = False


class Gateway:
    """Checks and records /ws/ requests before and after the routes see them."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/ws/"):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        outcome = _Outcome()
        try:
            await self._handle(scope, body, receive, send, outcome)
        finally:
            if scope["method"] in WRITE_METHODS:
                self.state.record_write(
                    method=scope["method"],
                    path=scope["path"],
                    merchant=outcome.merchant,
                    body=_summary(body),
                    applied=outcome.applied,
                    status=outcome.status,
                    handler_status=outcome.handler_status,
                    fault=outcome.fault,
                )
            self.state.served[outcome.status] += 1

    async def _handle(
        self,
        scope: Scope,
        body: bytes,
        receive: Receive,
        send: Send,
        outcome: "_Outcome",
    ) -> None:
        headers = Headers(scope=scope)
        method, path = scope["method"], scope["path"]

        if not headers.get("user-agent", "").strip():
            firewall = {
                "errors": [{"code": "bot-need-challenge", "message": "Forbidden"}]
            }
            ray = {"cf-ray": f"{uuid.uuid4().hex[:16]}-CDG"}
            await _answer(send, outcome, 403, firewall, ray)
            return

        merchant = self._merchant_of(headers.get("authorization", ""))
        if merchant is None:
            error = {"code": "unauthorized", "message": "Invalid or missing token"}
            await _answer(
                send, outcome, 401, {"error": error, "requestId": request_id()}
            )
            return
        outcome.merchant = merchant.name

        with self.state.lock:
            self.state.tick()
            refused = self.state.limiter.admit_request(
                merchant.token, _scope_of(method, path)
            )
        if refused is not None:
            await _answer(send, outcome, 429, too_many_requests(refused))
            return

        with self.state.lock:
            fault = self.state.faults.decide(method, path)
        if fault is not None:
            outcome.fault = fault.kind or "latency"
            if fault.latency_s:
                await asyncio.sleep(fault.latency_s)
            if fault.kind == "error":
                error = {"code": "internal-error", "message": "Internal Server Error"}
                body_json = {"error": error, "requestId": request_id()}
                await _answer(send, outcome, fault.rule.error_status, body_json)
                return
            if fault.kind == "timeout":
                await asyncio.sleep(fault.rule.hang_s)
                await _answer_html(send, outcome, 504)
                return

        context = RequestContext(merchant=merchant.name, token=merchant.token)
        scope[CONTEXT_KEY] = context
        lost = fault is not None and fault.kind == "lost"

        pending = [body]

        async def replay() -> Message:
            if pending:
                return {
                    "type": "http.request",
                    "body": pending.pop(),
                    "more_body": False,
                }
            return await receive()

        async def relay(message: Message) -> None:
            if message["type"] == "http.response.start":
                outcome.handler_status = int(message["status"])
                outcome.status = outcome.handler_status
            if not lost:
                await send(message)

        try:
            await self.app(scope, replay, relay)
        finally:
            outcome.applied = context.applied
        if lost and fault is not None:
            # The write stands, but the client never learns: as when a proxy drops
            # the connection after Back Market processed the request.
            await _answer_html(send, outcome, fault.rule.lost_response_status)

    def _merchant_of(self, authorization: str) -> MerchantConfig | None:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "basic" or not token.strip():
            return None
        return self.state.tokens.get(token.strip())


def too_many_requests(scope: str) -> dict[str, Any]:
    """Back Market's 429 body."""
    message = f"Too many requests ({scope} limit)"
    return {
        "error": {"code": "too-many-requests", "message": message},
        "requestId": request_id(),
    }


@dataclass
class _Outcome:
    merchant: str | None = None
    status: int = 500
    handler_status: int | None = None
    applied: bool = False
    fault: str | None = None


def _scope_of(method: str, path: str) -> str | None:
    if path.startswith("/ws/listings"):
        return limits.CATALOG
    if method == "GET" and path.rstrip("/") == "/ws/sav":
        return limits.SAV_LIST
    if method == "GET" and path.startswith("/ws/sav/"):
        return limits.SAV_DETAIL
    if path.startswith("/ws/backbox/"):
        return limits.BACKBOX
    return None


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _answer(
    send: Send,
    outcome: _Outcome,
    status: int,
    payload: Any,
    extra: dict[str, str] | None = None,
) -> None:
    content = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json")]
    headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
    await _send(send, outcome, status, content, headers)


async def _answer_html(send: Send, outcome: _Outcome, status: int) -> None:
    content = f"<html><body><h1>{status}</h1>Bad gateway</body></html>".encode()
    await _send(send, outcome, status, content, [(b"content-type", b"text/html")])


async def _send(
    send: Send,
    outcome: _Outcome,
    status: int,
    content: bytes,
    headers: list[tuple[bytes, bytes]],
) -> None:
    outcome.status = status
    headers = [*headers, (b"content-length", str(len(content)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


def _summary(body: bytes) -> Any:
    """The request body for the writes log, with bulk CSVs cut to a line count."""
    if not body:
        return None
    try:
        parsed = json.loads(body)
    except ValueError:
        return body[:500].decode("utf-8", "replace")
    if isinstance(parsed, dict) and isinstance(parsed.get("catalog"), str):
        lines = parsed["catalog"].strip().splitlines()
        return {
            **parsed,
            "catalog": f"<{max(len(lines) - 1, 0)} lines>",
            "catalog_head": lines[:3],
        }
    return parsed
