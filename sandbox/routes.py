"""Back Market's /ws/ endpoints, answered from the sandbox's state."""

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from sandbox import limits
from sandbox.errors import ApiError, bm_error, empty_error
from sandbox.gateway import CONTEXT_KEY, RequestContext, too_many_requests
from sandbox.state import SandboxState, parse_rfc3339

MAX_PAGE_SIZE = 50
DEFAULT_PAGE_SIZE = 10
SAV_PAGE_SIZE = 10

router = APIRouter(prefix="/ws")
T = TypeVar("T")


@router.get("/listings")
async def list_listings(request: Request) -> Response:
    """Listings of the caller, filtered and paged."""
    state, context = _state(request), _context(request)
    query = _Query(request, bm_error(400, "invalid-parameter", "bad parameter"))
    found = state.list_listings(
        context.merchant,
        publication_state=query.int("publication_state"),
        min_quantity=query.int("min_quantity"),
        max_quantity=query.int("max_quantity"),
    )
    return _page(request, query, found, lambda x: x.to_json())


@router.get("/listings/detail")
async def listing_detail(request: Request) -> Response:
    """One listing by `sku`, `listing_id` or `id`."""
    state, context = _state(request), _context(request)
    params = request.query_params
    if params.get("sku"):
        listing = state.find_by_sku(context.merchant, params["sku"])
        if listing is None:
            raise bm_error(404, "not-found", f"Listing {params['sku']} not found")
    elif params.get("listing_id") or params.get("id"):
        ref = params.get("listing_id") or params["id"]
        listing = state.get_listing(context.merchant, ref)
    else:
        raise bm_error(400, "invalid-parameter", "sku, listing_id or id expected")
    return JSONResponse(listing.to_json())


@router.get("/listings/{ref}")
async def get_listing(request: Request, ref: str) -> Response:
    """One listing by UUID or legacy integer id."""
    listing = _state(request).get_listing(_context(request).merchant, ref)
    return JSONResponse(listing.to_json())


@router.post("/listings/{ref}")
async def update_listing(request: Request, ref: str) -> Response:
    """Partial update of one listing; counts one SKU line."""
    state, context = _state(request), _context(request)
    body = await _json(request, bm_error(400, "invalid-json", "body is not JSON"))
    with state.lock:
        state.get_listing(context.merchant, ref)
        _spend_sku_lines(state, context, 1)
        listing = state.update_listing(context.merchant, ref, body)
        context.applied = True
        return JSONResponse({**listing.to_json(), "statuscode": 200})


@router.post("/listings")
async def bulk_update(request: Request) -> Response:
    """Queue a CSV of listing updates; counts one SKU line per CSV line."""
    state, context = _state(request), _context(request)
    body = await _json(request, bm_error(400, "invalid-json", "body is not JSON"))
    rows = state.parse_bulk(body)
    with state.lock:
        _spend_sku_lines(state, context, len(rows))
        task = state.queue_bulk(context.merchant, rows)
        context.applied = True
    return JSONResponse({"bodymessage": task.task_id, "statuscode": 200})


@router.get("/tasks/{task_id}")
async def get_task(request: Request, task_id: str) -> Response:
    """The progress of a bulk task."""
    task = _state(request).get_task(_context(request).merchant, task_id)
    return JSONResponse(task.to_json())


@router.get("/orders")
async def list_orders(request: Request) -> Response:
    """Visible orders of the caller, filtered and paged."""
    state, context = _state(request), _context(request)
    query = _Query(request, empty_error(400))
    found = state.list_orders(
        context.merchant,
        state=query.int("state"),
        date_creation=query.timestamp("date_creation"),
        date_modification=query.timestamp("date_modification"),
        country_code=request.query_params.get("country_code") or None,
    )
    return _page(request, query, found, lambda x: x.to_json())


@router.get("/orders/{order_id}")
async def get_order(request: Request, order_id: str) -> Response:
    """The bare order."""
    order = _state(request).get_order(_context(request).merchant, order_id)
    return JSONResponse(order.to_json())


@router.post("/orders/{order_id}")
async def update_order(request: Request, order_id: str) -> Response:
    """Accept or cancel a line, or ship the order."""
    state, context = _state(request), _context(request)
    body = await _json(request, empty_error(400))
    order = state.update_order(context.merchant, order_id, body)
    context.applied = True
    return JSONResponse(order.to_json())


@router.patch("/orderlines/{line_id}")
async def patch_orderline(request: Request, line_id: str) -> Response:
    """Set a line's IMEI or serial number, once."""
    state, context = _state(request), _context(request)
    body = await _json(request, bm_error(422, "invalid-json", "body is not JSON"))
    line = state.patch_orderline(context.merchant, line_id, body)
    context.applied = True
    sent = {key: body[key] for key in ("imei", "serial_number") if key in body}
    return JSONResponse({"id": line.id, **sent})


@router.get("/sav")
async def list_care_folders(request: Request) -> Response:
    """Care folders of the caller, ten a page."""
    state, context = _state(request), _context(request)
    query = _Query(request, bm_error(400, "invalid-parameter", "bad parameter"))
    found = state.list_care_folders(
        context.merchant,
        state=query.int("state"),
        last_id=query.int("last_id"),
        orderline=query.int("orderline"),
        last_modification=query.sav_date("last_modification_date"),
    )
    return _page(request, query, found, lambda x: x.summary(), SAV_PAGE_SIZE)


@router.get("/sav/{folder_id}")
async def get_care_folder(request: Request, folder_id: str) -> Response:
    """One whole care folder."""
    folder = _state(request).get_care_folder(_context(request).merchant, folder_id)
    return JSONResponse(folder.to_json())


@router.get("/backbox/v1/competitors/{listing_uuid}")
async def competitors(request: Request, listing_uuid: str) -> Response:
    """BackBox prices of a listing, one entry per market."""
    answer = _state(request).competitors(_context(request).merchant, listing_uuid)
    return JSONResponse(answer)


class _Query:
    """Typed reads of query parameters; a bad value raises the endpoint's 400."""

    def __init__(self, request: Request, bad: ApiError) -> None:
        self.params = request.query_params
        self.bad = bad

    def int(self, name: str, default: int | None = None) -> int | None:
        raw = self.params.get(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise self.bad from None

    def timestamp(self, name: str) -> datetime | None:
        raw = self.params.get(name)
        if not raw:
            return None
        try:
            return parse_rfc3339(raw)
        except ValueError:
            raise self.bad from None

    def sav_date(self, name: str) -> datetime | None:
        raw = self.params.get(name)
        if not raw:
            return None
        try:
            return datetime.strptime(raw, "%Y-%m-%d-%H-%M").replace(tzinfo=UTC)
        except ValueError:
            raise self.bad from None


def _page(
    request: Request,
    query: _Query,
    items: Sequence[T],
    render: Callable[[T], Any],
    fixed_size: int | None = None,
) -> Response:
    page = query.int("page", 1) or 1
    size = fixed_size or query.int("page-size", DEFAULT_PAGE_SIZE) or 0
    if page < 1 or size < 1:
        raise query.bad
    size = min(size, MAX_PAGE_SIZE)
    start = (page - 1) * size
    if page > 1 and start >= len(items):
        # Django REST Framework, behind Back Market, answers 404 past the last page.
        raise bm_error(404, "not-found", "Invalid page.")
    url = request.url
    has_next = start + size < len(items)
    return JSONResponse(
        {
            "count": len(items),
            "next": str(url.include_query_params(page=page + 1)) if has_next else None,
            "previous": str(url.include_query_params(page=page - 1))
            if page > 1
            else None,
            "results": [render(item) for item in items[start : start + size]],
        }
    )


def _spend_sku_lines(state: SandboxState, context: RequestContext, lines: int) -> None:
    refused = state.limiter.admit(context.token, limits.SKU_LINES, lines)
    if refused is not None:
        raise ApiError(429, too_many_requests(refused))


async def _json(request: Request, bad: ApiError) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        raise bad from None


def _state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


def _context(request: Request) -> RequestContext:
    context: RequestContext = request.scope[CONTEXT_KEY]
    return context
