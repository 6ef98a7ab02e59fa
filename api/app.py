"""The HTTP API: commit devices, add shipments, read orders, put devices in stock.

Every request carries `Authorization: Bearer <token>`. A commit or a shipment may
carry a `request_id` of the caller's: a request repeated with the same id (a retried
webhook, say) is acted on once, and a different request under a used id is refused
(409). Errors answer with a `detail`: a sentence for a missing account or order
(404), a refused request (409), an order whose workflow did not answer in time or a
database that cannot be reached (503) or an unexpected error (500), and for a field
the same list FastAPI gives for a bad body, whose `loc` names the field. Neither the
token, nor anything about customers, nor what a request sent is logged.
"""

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import (
    APIRouter,
    Depends,
    FastAPI,
    HTTPException,
    Path,
    Request,
    status,
)
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator
from sqlalchemy.orm import Session, sessionmaker

from api.failures import AnswerFailures
from api.models import (
    CommitRequest,
    OrderView,
    ShipmentRequest,
    StockCreated,
    StockRequest,
)
from api.stock import FieldProblem, StockAdded, add_stock
from api.summary import OrderSummary, order_summary
from database.accounts import get_account
from domain.orders import (
    AddShipmentInput,
    AddShipmentResult,
    CommitInventoryInput,
    CommitInventoryResult,
    order_workflow_id,
)
from domain.text import error_message, quoted, storable
from runtime.order_client import OrderClient, OrderNotAnswered, OrderRequestError

log = logging.getLogger(__name__)

NotifyStock = Callable[[list[int]], Awaitable[None]]
"""Tells the quantity sync which accounts' stock changed."""

# A shorter bearer token is one a caller could guess; 16 random characters are not.
MIN_TOKEN_LENGTH = 16

OrderId = Annotated[int, Path(ge=1, le=2**63 - 1, description="Back Market's order id")]
# A name Postgres cannot store is no account's: it is refused as a bad path segment
# (422), like an order id out of range, before any lookup.
AccountName = Annotated[
    str, Path(description="the account's name"), AfterValidator(storable)
]


def create_app(
    session_factory: sessionmaker[Session],
    order_client: OrderClient,
    api_token: str,
    notify_stock: NotifyStock | None = None,
) -> FastAPI:
    """The API over this database and these order workflows."""
    problem = token_problem(api_token)
    if problem is not None:
        raise ValueError(f"the API token {problem}")
    app = FastAPI(
        title="bmsync",
        summary="Orders, shipments and stock for the Back Market sync engine.",
        version="1",
    )
    app.add_exception_handler(FieldProblem, _field_problem)
    app.add_exception_handler(RequestValidationError, _bad_request)
    app.add_middleware(AnswerFailures)
    v1 = APIRouter(prefix="/v1", dependencies=[Depends(_bearer(api_token))])

    @v1.post(
        "/accounts/{account}/orders/{order_id}/commits",
        status_code=status.HTTP_201_CREATED,
    )
    async def commit_inventory(
        account: AccountName, order_id: OrderId, body: CommitRequest
    ) -> CommitInventoryResult:
        """Commit a device to an orderline; its IMEI goes to Back Market when due."""
        account_id = await run_in_threadpool(_account_id, session_factory, account)
        request = CommitInventoryInput(
            orderline_id=body.orderline_id,
            identifier=body.identifier,
            allow_mismatch=body.allow_mismatch,
            request_id=body.request_id,
        )
        try:
            result = await order_client.commit_inventory(account_id, order_id, request)
        except OrderRequestError as exc:
            log.info(
                "commit refused",
                extra={"order_id": order_id, "orderline_id": body.orderline_id},
            )
            raise HTTPException(_refusal_status(exc), str(exc)) from None
        log.info(
            "device committed",
            extra={
                "order_id": order_id,
                "orderline_id": body.orderline_id,
                "inventory_item_id": result.inventory_item_id,
            },
        )
        return result

    @v1.post(
        "/accounts/{account}/orders/{order_id}/shipments",
        status_code=status.HTTP_201_CREATED,
    )
    async def add_shipment(
        account: AccountName, order_id: OrderId, body: ShipmentRequest
    ) -> AddShipmentResult:
        """Add a tracking number; sent once every line is validated and committed."""
        account_id = await run_in_threadpool(_account_id, session_factory, account)
        request = AddShipmentInput(
            tracking_number=body.tracking_number,
            carrier=body.carrier,
            url=body.url,
            request_id=body.request_id,
        )
        try:
            result = await order_client.add_shipment(account_id, order_id, request)
        except OrderRequestError as exc:
            log.info("shipment refused", extra={"order_id": order_id})
            raise HTTPException(_refusal_status(exc), str(exc)) from None
        log.info("shipment added", extra={"order_id": order_id, "held": result.held})
        return result

    @v1.get("/accounts/{account}/orders/{order_id}")
    async def get_order(account: AccountName, order_id: OrderId) -> OrderView:
        """The stored sales order and its workflow's current state."""
        account_id = await run_in_threadpool(_account_id, session_factory, account)
        summary = await run_in_threadpool(
            _summary, session_factory, account_id, order_id
        )
        try:
            state = await order_client.state(account_id, order_id)
        except OrderRequestError as exc:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
        if summary is None:
            # A request for an order not imported yet may have started its workflow,
            # which then found Back Market has no such order.
            failure = await order_client.failure(account_id, order_id)
            if state is None or failure is not None:
                raise HTTPException(
                    status.HTTP_404_NOT_FOUND,
                    f"order {order_id} of account {quoted(account)} is not known"
                    + (f": {failure}" if failure else ""),
                )
        return OrderView(
            account=account,
            order_id=order_id,
            workflow_id=order_workflow_id(account_id, order_id),
            sales_order=summary,
            workflow=state,
        )

    @v1.post("/stock", status_code=status.HTTP_201_CREATED)
    async def put_in_stock(body: StockRequest) -> StockCreated:
        """Put one device in stock, then tell the quantity sync."""
        added = await run_in_threadpool(_add_stock, session_factory, body)
        log.info("device added to stock", extra={"inventory_item_id": added.item.id})
        notified = False
        if notify_stock is not None and added.account_ids:
            try:
                await notify_stock(added.account_ids)
                notified = True
            except Exception as exc:
                # The device is stored either way; the periodic reconcile counts it.
                log.warning(
                    "quantity sync not notified",
                    extra={
                        "inventory_item_id": added.item.id,
                        "error_class": type(exc).__name__,
                    },
                )
        return StockCreated(**added.item.model_dump(), quantity_sync_notified=notified)

    app.include_router(v1)
    return app


def token_problem(api_token: str) -> str | None:
    """Why `api_token` will not do as the bearer token callers send, or None."""
    if not api_token.strip():
        return "is empty"
    if len(api_token.strip()) < MIN_TOKEN_LENGTH:
        return f"is shorter than {MIN_TOKEN_LENGTH} characters"
    return None


def _bearer(api_token: str) -> Callable[..., Awaitable[None]]:
    expected = api_token.encode()
    scheme = HTTPBearer(auto_error=False, description="BMSYNC_API_TOKEN")

    async def check(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(scheme)],
    ) -> None:
        given = b"" if credentials is None else credentials.credentials.encode()
        # Constant time, so the answer's timing tells nothing about the token.
        if not hmac.compare_digest(given, expected):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "missing or wrong bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return check


async def _bad_request(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422, without echoing the values sent: a body may be large, hold
    bytes that are not text, or hold what should not be repeated."""
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={
            "detail": [
                {
                    "loc": list(error.get("loc", ())),
                    "msg": _readable(error_message(error)),
                    "type": error.get("type", "value_error"),
                }
                for error in exc.errors()
            ]
        },
    )


def _readable(message: str, limit: int = 300) -> str:
    """A message fit for a JSON answer: bytes that are not text replaced, cut."""
    text = message.encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= limit else text[:limit] + "…"


async def _field_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FieldProblem)
    return JSONResponse(
        status_code=exc.status,
        content={
            "detail": [
                {
                    "loc": ["body", field],
                    "msg": exc.message,
                    "type": "conflict" if exc.status == 409 else "value_error",
                }
                for field in exc.fields
            ]
        },
    )


def _account_id(session_factory: sessionmaker[Session], name: str) -> int:
    with session_factory() as session:
        account = get_account(session, name)
        if account is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"no account named {quoted(name)}"
            )
        return account.id


def _refusal_status(exc: OrderRequestError) -> int:
    """404 when Back Market does not know the order, 503 when no answer came in
    time (so the caller tries again later), 409 for a broken rule or for a request
    id already used by a different request."""
    if isinstance(exc, OrderNotAnswered):
        return status.HTTP_503_SERVICE_UNAVAILABLE
    if exc.kind == "OrderUnavailable":
        return status.HTTP_404_NOT_FOUND
    return status.HTTP_409_CONFLICT


def _summary(
    session_factory: sessionmaker[Session], account_id: int, order_id: int
) -> OrderSummary | None:
    with session_factory() as session:
        return order_summary(session, account_id, order_id)


def _add_stock(
    session_factory: sessionmaker[Session], body: StockRequest
) -> StockAdded:
    with session_factory.begin() as session:
        return add_stock(session, body)
