"""Shared helpers of the client tests: fixtures on disk, a mock transport."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from backmarket import BackMarketClient, Limits, Pacer
from backmarket.pacing import Budget

FIXTURES = Path(__file__).parent / "fixtures" / "backmarket"
TOKEN = "s3cr3t-T0KEN-do-not-leak"
BASE_URL = "https://bm.test"

Handler = Callable[[httpx.Request], httpx.Response]


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def text(name: str) -> str:
    return (FIXTURES / name).read_text()


def roomy_pacer() -> Pacer:
    """A pacer that never makes a test wait."""
    big = (Budget(units=1_000_000, window_s=1),)
    return Pacer(
        Limits(
            general=big,
            catalog=big,
            sku_lines=big,
            backbox=big,
            care_list=big,
            care_detail=big,
        )
    )


def make_client(
    handler: Handler, *, pacer: Pacer | None = None, **kw: Any
) -> BackMarketClient:
    return BackMarketClient(
        TOKEN,
        company="Refurbco",
        integration="bmsync",
        contact_email="ops@refurbco.example",
        base_url=kw.pop("base_url", BASE_URL),
        transport=httpx.MockTransport(handler),
        pacer=pacer or roomy_pacer(),
        **kw,
    )


class Recorder:
    """A handler answering from a queue of responses, recording each request."""

    def __init__(self, *responses: httpx.Response) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.responses:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        return self.responses.pop(0)

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)
