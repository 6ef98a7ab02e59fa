"""Back Market failures become the right exception, and never show the token."""

from __future__ import annotations

import pickle

import httpx
import pytest

from backmarket import errors
from backmarket.errors import (
    BackMarketConnectionError,
    BackMarketError,
    BackMarketTimeout,
    BadRequestError,
    ForbiddenError,
    NotFoundError,
    PayloadError,
    PermanentError,
    RateLimitedError,
    RetryableError,
    ServerError,
    UnauthorizedError,
    UnprocessableError,
)
from tests.test_client_helpers import TOKEN, Recorder, load, make_client, text
from workflows.policies import NON_RETRYABLE_ERRORS


def _json(status: int, name: str, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=load(name), headers=headers)


CASES = [
    pytest.param(
        _json(404, "error_shape_error.json"),
        NotFoundError,
        "Listing not found",
        "listing-not-found",
        "req-9f8e7d6c",
        id="error-object",
    ),
    pytest.param(
        _json(403, "errors_list.json", **{"cf-ray": "8a1b2c3d4e5f6789-CDG"}),
        ForbiddenError,
        "Forbidden",
        "bot-need-challenge",
        "8a1b2c3d4e5f6789-CDG",
        id="errors-list-firewall",
    ),
    pytest.param(
        _json(400, "bare_string.json"),
        BadRequestError,
        "parameter catalog not found",
        None,
        None,
        id="bare-string",
    ),
    pytest.param(
        httpx.Response(
            403,
            text=text("cloudflare.html"),
            headers={"content-type": "text/html", "cf-ray": "8a1b2c3d4e5f6789-AMS"},
        ),
        ForbiddenError,
        "blocked by the firewall (HTML answer)",
        None,
        "8a1b2c3d4e5f6789-AMS",
        id="cloudflare-html",
    ),
    pytest.param(
        httpx.Response(500),
        ServerError,
        "Internal Server Error",
        None,
        None,
        id="empty-500",
    ),
    pytest.param(
        httpx.Response(
            429,
            json={"error": {"code": "too-many-requests", "message": "Slow down"}},
        ),
        RateLimitedError,
        "Slow down",
        "too-many-requests",
        None,
        id="rate-limited",
    ),
    pytest.param(
        httpx.Response(401, json={"detail": "Invalid token."}),
        UnauthorizedError,
        "Invalid token.",
        None,
        None,
        id="unauthorized",
    ),
    pytest.param(
        httpx.Response(413, json="catalog too large"),
        UnprocessableError,
        "catalog too large",
        None,
        None,
        id="too-large",
    ),
    pytest.param(
        httpx.Response(
            422, json={"errors": [{"code": "imei-set", "message": "IMEI already set"}]}
        ),
        UnprocessableError,
        "IMEI already set",
        "imei-set",
        None,
        id="unprocessable",
    ),
    pytest.param(
        httpx.Response(409, text="conflict, try something else"),
        PermanentError,
        "conflict, try something else",
        None,
        None,
        id="other-4xx",
    ),
]


@pytest.mark.parametrize(("response", "cls", "message", "code", "request_id"), CASES)
async def test_error_shapes(
    response: httpx.Response,
    cls: type[BackMarketError],
    message: str,
    code: str | None,
    request_id: str | None,
) -> None:
    async with make_client(Recorder(response)) as client:
        with pytest.raises(cls) as caught:
            await client.get_listing("6f1c2a9e")

    error = caught.value
    assert type(error) is cls
    assert error.status == response.status_code
    assert error.message == message
    assert error.code == code
    assert error.request_id == request_id
    assert error.method == "GET"
    assert error.path == "/ws/listings/6f1c2a9e"
    assert error.retryable is (response.status_code in (429, 500))
    assert isinstance(error, RetryableError if error.retryable else PermanentError)
    for shown in (str(error), repr(error), str(error.details())):
        assert TOKEN not in shown
        assert "Basic" not in shown
    assert error.__cause__ is None


async def test_firewall_flag_only_for_firewall_answers() -> None:
    plain = httpx.Response(403, json={"error": {"code": "not-a-merchant"}})
    async with make_client(Recorder(plain)) as client:
        with pytest.raises(ForbiddenError) as caught:
            await client.get_order(1)

    assert caught.value.firewall is False
    assert caught.value.message == "Forbidden"


async def test_token_echoed_by_the_server_is_scrubbed() -> None:
    echo = httpx.Response(401, json={"error": {"message": f"bad token {TOKEN}"}})
    async with make_client(Recorder(echo)) as client:
        with pytest.raises(UnauthorizedError) as caught:
            await client.get_order(1)

    assert caught.value.message == "bad token ***"
    assert TOKEN not in str(caught.value)


def test_kinds_are_distinct_names_for_temporal() -> None:
    classes = [
        cls
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, BackMarketError)
    ]
    kinds = [cls.kind for cls in classes]

    assert len(set(kinds)) == len(classes)
    assert NotFoundError.kind == "BackMarketNotFound"
    assert all(kind.startswith("BackMarket") for kind in kinds)


@pytest.mark.parametrize(
    ("raised", "cls", "applied"),
    [
        (httpx.ReadTimeout("read timed out"), BackMarketTimeout, True),
        (httpx.ConnectTimeout("connect timed out"), BackMarketTimeout, False),
        (httpx.ConnectError("refused"), BackMarketConnectionError, False),
        (httpx.RemoteProtocolError("peer closed"), BackMarketConnectionError, True),
    ],
)
async def test_transport_failures_are_retryable(
    raised: Exception, cls: type[BackMarketError], applied: bool
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise raised

    async with make_client(handler) as client:
        with pytest.raises(cls) as caught:
            await client.accept_orderline(51234567, "SKU-A")

    error = caught.value
    assert error.retryable
    assert error.may_have_applied is applied
    assert error.method == "POST"
    assert error.path == "/ws/orders/51234567"
    assert error.__cause__ is None
    assert TOKEN not in repr(error) + str(error)


async def test_server_error_on_a_write_may_have_applied() -> None:
    async with make_client(Recorder(httpx.Response(502))) as client:
        with pytest.raises(ServerError) as caught:
            await client.cancel_orderline(1, "SKU-A")

    assert caught.value.may_have_applied


async def test_refused_write_did_not_apply() -> None:
    async with make_client(Recorder(httpx.Response(400))) as client:
        with pytest.raises(BadRequestError) as caught:
            await client.cancel_orderline(1, "SKU-A")

    assert not caught.value.may_have_applied


async def test_ok_status_with_error_statuscode_in_body() -> None:
    body = {"statuscode": 400, "bodymessage": "invalid price"}
    async with make_client(Recorder(httpx.Response(200, json=body))) as client:
        with pytest.raises(BadRequestError):
            await client.bulk_update_listings("sku;quantity\nSKU-A;1\n")


async def test_non_json_success_is_a_payload_error() -> None:
    async with make_client(Recorder(httpx.Response(200, text="<html>"))) as client:
        with pytest.raises(PayloadError, match="not JSON"):
            await client.get_order(1)


def test_errors_survive_pickling() -> None:
    error = ForbiddenError(
        "Forbidden",
        firewall=True,
        status=403,
        request_id="ray",
        method="GET",
        path="/p",
    )

    copy = pickle.loads(pickle.dumps(error))

    assert type(copy) is ForbiddenError
    assert copy.details() == error.details()
    assert str(copy) == str(error)


def test_the_workflows_never_retry_a_permanent_answer_and_always_a_passing_one() -> (
    None
):
    def kinds(base: type) -> set[str]:
        found = {base.kind}
        for sub in base.__subclasses__():
            found |= kinds(sub)
        return found

    assert kinds(PermanentError) <= set(NON_RETRYABLE_ERRORS)
    assert not kinds(RetryableError) & set(NON_RETRYABLE_ERRORS)
