"""One exception tree for everything that can go wrong when talking to Back Market.

Every error carries only what is safe to log and to record in a workflow history: the
HTTP status, Back Market's own message and code, a request id for support, and the
method and path of the call. Never the token, a header or a response payload.

`retryable` says whether the same call may succeed later unchanged; `kind` is a stable
name meant to be used as a Temporal `ApplicationError` type.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar

import httpx
from pydantic import ValidationError

MAX_MESSAGE_CHARS = 300


class BackMarketError(Exception):
    """Base of every error raised by the Back Market client."""

    kind: ClassVar[str] = "BackMarketError"
    _retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
        may_have_applied: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.method = method
        self.path = path
        # True when a write may have reached Back Market before it failed, so the
        # caller must read the current state before it repeats the write.
        self.may_have_applied = may_have_applied

    @property
    def retryable(self) -> bool:
        """Whether the same call may succeed later, unchanged."""
        return self._retryable

    def details(self) -> dict[str, Any]:
        """The safe fields, e.g. for `ApplicationError` details or log extras."""
        return {
            "status": self.status,
            "code": self.code,
            "request_id": self.request_id,
            "method": self.method,
            "path": self.path,
            "may_have_applied": self.may_have_applied,
        }

    def __str__(self) -> str:
        where = " ".join(p for p in (self.method, self.path) if p)
        head = f"{self.status} {where}" if self.status is not None else where
        extras = [f"code={self.code}"] if self.code else []
        if self.request_id:
            extras.append(f"request_id={self.request_id}")
        tail = f" ({', '.join(extras)})" if extras else ""
        return f"{head}: {self.message}{tail}" if head else f"{self.message}{tail}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r}, request_id={self.request_id!r}, "
            f"method={self.method!r}, path={self.path!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructors do not survive the default exception pickling.
        return (_rebuild, (type(self), self.message, self.__dict__))


def _rebuild(
    cls: type[BackMarketError], message: str, state: dict[str, Any]
) -> BackMarketError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class RetryableError(BackMarketError):
    """A failure that may go away by itself: the caller should retry later."""

    kind = "BackMarketRetryable"
    _retryable = True


class RateLimitedError(RetryableError):
    """429: the token went over a Back Market budget and is blocked for a while."""

    kind = "BackMarketRateLimited"


class ServerError(RetryableError):
    """5xx from Back Market."""

    kind = "BackMarketServerError"


class BackMarketTimeout(RetryableError):
    """No answer in time; for a write, it may still have been applied."""

    kind = "BackMarketTimeout"


class BackMarketConnectionError(RetryableError):
    """The connection failed or broke before a complete answer arrived."""

    kind = "BackMarketConnectionError"


class PermanentError(BackMarketError):
    """A failure that repeating the same call will not fix."""

    kind = "BackMarketPermanent"


class BadRequestError(PermanentError):
    """400: Back Market refused the request as malformed."""

    kind = "BackMarketBadRequest"


class UnauthorizedError(PermanentError):
    """401: the token is wrong, revoked or belongs to another platform."""

    kind = "BackMarketUnauthorized"


class ForbiddenError(PermanentError):
    """403: not a merchant, channel disabled, or blocked by the firewall."""

    kind = "BackMarketForbidden"

    def __init__(self, message: str, *, firewall: bool = False, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.firewall = firewall

    def details(self) -> dict[str, Any]:
        return {**super().details(), "firewall": self.firewall}


class NotFoundError(PermanentError):
    """404: missing, or owned by another merchant."""

    kind = "BackMarketNotFound"


class UnprocessableError(PermanentError):
    """413 or 422: understood but refused (too large, invalid, already set)."""

    kind = "BackMarketUnprocessable"


class PayloadError(PermanentError):
    """Back Market answered, but the answer does not fit our models."""

    kind = "BackMarketPayloadError"


_BY_STATUS: dict[int, type[BackMarketError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    408: BackMarketTimeout,
    413: UnprocessableError,
    422: UnprocessableError,
    429: RateLimitedError,
}

_FIREWALL_CODES = frozenset({"bot-need-challenge"})


def error_from_response(
    response: httpx.Response, *, method: str, path: str, secret: str | None = None
) -> BackMarketError:
    """The exception for a non-2xx answer; `secret` is scrubbed from the message."""
    status = response.status_code
    message, code, request_id, is_html = _parse_error_body(response)
    request_id = request_id or response.headers.get("cf-ray")
    if not message:
        message = response.reason_phrase or f"HTTP {status}"
    message = _clip(_scrub(message, secret))
    kw: dict[str, Any] = {
        "status": status,
        "code": code,
        "request_id": request_id,
        "method": method,
        "path": path,
        # A refused write (4xx other than a timeout) did not happen; after a 5xx
        # nobody can tell.
        "may_have_applied": method not in ("GET", "HEAD") and status >= 500,
    }
    if status == 403:
        firewall = is_html or (code in _FIREWALL_CODES)
        return ForbiddenError(message, firewall=firewall, **kw)
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else PermanentError
    return cls(message, **kw)


def payload_error(
    exc: ValidationError,
    *,
    what: str,
    object_id: object,
    method: str | None = None,
    path: str | None = None,
) -> PayloadError:
    """A `PayloadError` naming the object and the failing field paths.

    Pydantic's own message quotes the offending input, which may be an address or an
    email, so the message is rebuilt from the locations and reasons only.
    """
    problems = [
        f"{_loc(err['loc'])}: {err['msg']}" for err in exc.errors(include_input=False)
    ]
    shown = "; ".join(problems[:3])
    more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
    ident = "?" if object_id is None else str(object_id)
    return PayloadError(
        f"{what} {ident} does not fit the model: {shown}{more}",
        method=method,
        path=path,
    )


def _loc(loc: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in loc) or "<root>"


def _parse_error_body(
    response: httpx.Response,
) -> tuple[str | None, str | None, str | None, bool]:
    """Back Market's message, code and request id, and whether the body was HTML."""
    text = response.text.strip()
    if not text:
        return None, None, None, False
    content_type = response.headers.get("content-type", "")
    if "html" in content_type or text.startswith("<"):
        return "blocked by the firewall (HTML answer)", None, None, True
    try:
        body = json.loads(text)
    except ValueError:
        return text, None, None, False
    if isinstance(body, str):
        return body, None, None, False
    if not isinstance(body, dict):
        return None, None, None, False

    request_id = _opt_str(body.get("requestId") or body.get("request_id"))
    error = body.get("error")
    if isinstance(error, dict):
        return (
            _opt_str(error.get("message")),
            _opt_str(error.get("code")),
            request_id,
            False,
        )
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        messages = [_describe(e) for e in errors]
        first = errors[0]
        code = _opt_str(first.get("code")) if isinstance(first, dict) else None
        return "; ".join(m for m in messages if m) or None, code, request_id, False
    for key in ("message", "detail", "error_description"):
        if key in body:
            return _opt_str(body[key]), _opt_str(body.get("code")), request_id, False
    if isinstance(error, str):
        return error, None, request_id, False
    return None, None, request_id, False


def _describe(item: object) -> str | None:
    if isinstance(item, dict):
        return _opt_str(item.get("message") or item.get("code"))
    return _opt_str(item)


def _opt_str(value: object) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def _scrub(text: str, secret: str | None) -> str:
    if secret and secret in text:
        return text.replace(secret, "***")
    return text


def _clip(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    return text[: MAX_MESSAGE_CHARS - 1] + "…"
