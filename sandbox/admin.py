"""The sandbox's own control API under /_sandbox/: not part of Back Market's contract.

Tests and the demo use it to play the customer, inspect every write, and break things.
"""

from typing import Any

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response
from pydantic import BaseModel, Field

from sandbox.config import FaultRule, SandboxLimits
from sandbox.state import SandboxState


def _check_admin(
    request: Request, x_sandbox_admin: str | None = Header(default=None)
) -> None:
    expected = _state(request).config.admin_token
    if expected is not None and x_sandbox_admin != expected:
        raise HTTPException(status_code=401, detail="X-Sandbox-Admin header expected")


router = APIRouter(prefix="/_sandbox", dependencies=[Depends(_check_admin)])


class OrderLineRequest(BaseModel):
    """One SKU the customer buys."""

    sku: str
    quantity: int = Field(default=1, ge=1)


class PlaceOrderRequest(BaseModel):
    """A customer's order; `state` 1 paid, 0 payment checked, 8 failed, 10 unpaid."""

    merchant: str
    lines: list[OrderLineRequest] = Field(min_length=1)
    customer: dict[str, Any] | None = None
    state: int = 1


class CareFolderRequest(BaseModel):
    """A customer opens a care folder on a shipped orderline."""

    orderline_id: int
    return_label: bool = True
    issue: str = "SCREEN_DEFECT"
    resolution_choice: str = "REFUND"
    message: str = "My phone's screen flickers since I received it."


class QuantityRequest(BaseModel):
    """Another system sets a listing's quantity."""

    merchant: str
    sku: str
    quantity: int = Field(ge=0)


class FaultsRequest(BaseModel):
    """The complete list of fault rules to use from now on."""

    faults: list[FaultRule]


@router.get("/state")
async def read_state(request: Request) -> dict[str, Any]:
    """Merchants, sizes and the simulator's status."""
    state = _state(request)
    return {
        "merchants": [m.model_dump() for m in state.config.merchants],
        "counts": state.counts(),
        "market": {"running": request.app.state.market.running},
        "time_scale": state.config.time_scale,
        "seed": state.config.seed,
    }


@router.get("/listings")
async def read_listings(request: Request, merchant: str | None = None) -> Any:
    """Every listing, or one merchant's."""
    state = _state(request)
    with state.lock:
        return {
            "results": [
                {**listing.to_json(), "merchant": listing.merchant}
                for listing in state.listings.values()
                if merchant is None or listing.merchant == merchant
            ]
        }


@router.post("/listings/quantity")
async def set_quantity(request: Request, body: QuantityRequest) -> Any:
    """Set a listing's quantity as if another system wrote it."""
    listing = _state(request).set_quantity(body.merchant, body.sku, body.quantity)
    return listing.to_json()


@router.get("/orders")
async def read_orders(request: Request, merchant: str | None = None) -> Any:
    """Every order, hidden states included."""
    state = _state(request)
    with state.lock:
        return {
            "results": [
                {**order.to_json(), "merchant": order.merchant}
                for order in state.orders.values()
                if merchant is None or order.merchant == merchant
            ]
        }


@router.post("/orders", status_code=201)
async def place_order(request: Request, body: PlaceOrderRequest) -> Any:
    """Place an order as a customer; the listings lose the quantities."""
    lines = [(line.sku, line.quantity) for line in body.lines]
    order = _state(request).place_order(
        body.merchant, lines, customer=body.customer, state=body.state
    )
    return order.to_json()


@router.post("/orders/{order_id}/pay")
async def pay_order(request: Request, order_id: int) -> Any:
    """Let an order in payment check (0) or unpaid (10) become paid (1)."""
    return _state(request).pay_order(order_id).to_json()


@router.post("/orderlines/{line_id}/cancel")
async def cancel_line(request: Request, line_id: int) -> Any:
    """The customer cancels a line (1 -> 4, or 2 -> 5)."""
    return _state(request).customer_cancel(line_id).to_json()


@router.post("/care-folders", status_code=201)
async def open_care_folder(request: Request, body: CareFolderRequest) -> Any:
    """The customer opens a care folder, with a return label unless told not to."""
    folder = _state(request).open_care_folder(
        body.orderline_id,
        return_label=body.return_label,
        issue=body.issue,
        resolution_choice=body.resolution_choice,
        message=body.message,
    )
    return folder.to_json()


@router.post("/care-folders/{folder_id}/close")
async def close_care_folder(request: Request, folder_id: int) -> Any:
    """Back Market closes the folder; its return labels become USED."""
    return _state(request).close_care_folder(folder_id).to_json()


@router.get("/writes")
async def read_writes(
    request: Request,
    merchant: str | None = None,
    method: str | None = None,
    path_prefix: str | None = None,
) -> Any:
    """Every write received on /ws/, oldest first, with how it ended."""
    state = _state(request)
    with state.lock:
        return {
            "results": [
                write.to_json()
                for write in state.writes
                if (merchant is None or write.merchant == merchant)
                and (method is None or write.method == method.upper())
                and (path_prefix is None or write.path.startswith(path_prefix))
            ]
        }


@router.delete("/writes", status_code=204)
async def clear_writes(request: Request) -> Response:
    """Forget the writes received so far."""
    state = _state(request)
    with state.lock:
        state.writes.clear()
    return Response(status_code=204)


@router.get("/faults")
async def read_faults(request: Request) -> Any:
    """The fault rules in force, with what remains of each."""
    return {"faults": [rule.model_dump() for rule in _state(request).faults.rules]}


@router.put("/faults")
async def set_faults(request: Request, body: FaultsRequest) -> Any:
    """Replace the fault rules."""
    _state(request).set_faults(body.faults)
    return {"faults": [rule.model_dump() for rule in body.faults]}


@router.delete("/faults", status_code=204)
async def clear_faults(request: Request) -> Response:
    """Remove every fault rule."""
    _state(request).set_faults([])
    return Response(status_code=204)


@router.get("/limits")
async def read_limits(request: Request) -> Any:
    """The rate limits in force."""
    return _state(request).config.limits.model_dump()


@router.put("/limits")
async def set_limits(request: Request, body: SandboxLimits) -> Any:
    """Replace the rate limits; every budget starts afresh."""
    _state(request).set_limits(body)
    return body.model_dump()


@router.get("/throttled")
async def read_throttled(request: Request) -> Any:
    """How many 429s were served, per merchant and limit."""
    state = _state(request)
    with state.lock:
        rows = [
            {
                "merchant": state.tokens[token].name,
                "scope": scope,
                "count": count,
            }
            for (token, scope), count in sorted(state.limiter.refused.items())
        ]
    return {"total": sum(row["count"] for row in rows), "by_scope": rows}


@router.post("/market/start")
async def start_market(request: Request) -> Any:
    """Start the simulated customers."""
    request.app.state.market.start()
    return {"running": True}


@router.post("/market/stop")
async def stop_market(request: Request) -> Any:
    """Stop the simulated customers."""
    await request.app.state.market.stop()
    return {"running": False}


@router.post("/market/step")
async def step_market(request: Request, count: int = 1) -> Any:
    """Run `count` simulator steps now; answer what happened."""
    events: list[dict[str, Any]] = []
    for _ in range(count):
        events.extend(request.app.state.market.step())
    return {"events": events}


def _state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state
