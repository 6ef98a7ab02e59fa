"""Back Market's error answers, in the several shapes its endpoints use."""

import uuid
from typing import Any


class ApiError(Exception):
    """An answer other than success: a status and a JSON body, or no body at all."""

    def __init__(self, status: int, body: Any = None, *, empty: bool = False) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.empty = empty


def request_id() -> str:
    """A request id like the ones Back Market puts beside its errors."""
    return uuid.uuid4().hex


def bm_error(status: int, code: str, message: str) -> ApiError:
    """The `{"error": {...}, "requestId"}` shape of listings, tasks and 429s."""
    body = {"error": {"code": code, "message": message}, "requestId": request_id()}
    return ApiError(status, body)


def bare_error(status: int, message: str) -> ApiError:
    """A bare JSON string, as some listing updates answer their 400s."""
    return ApiError(status, message)


def empty_error(status: int) -> ApiError:
    """No body at all, as the order endpoints answer."""
    return ApiError(status, empty=True)
