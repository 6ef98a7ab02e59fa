"""Putting one device in stock on behalf of another system."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.models import StockItem, StockRequest
from database import inventory as repo
from database.accounts import get_account
from database.models import (
    AccountCountedStatus,
    AccountCountedWarehouse,
    AccountSettings,
)
from domain.inventory import VARIATION_ATTRIBUTES, VariationSpec
from domain.text import quoted

ADD_VARIATION_FIRST = (
    "give a sku, or add the variation first (bmsync catalog variations add)"
)


class FieldProblem(Exception):
    """Request fields that cannot be honoured together, answered with `status`."""

    def __init__(
        self, field: str | tuple[str, ...], message: str, status: int = 422
    ) -> None:
        super().__init__(message)
        self.fields = (field,) if isinstance(field, str) else field
        self.message = message
        self.status = status


@dataclass(frozen=True)
class StockAdded:
    item: StockItem
    # Accounts syncing quantities whose counted stock the device joins.
    account_ids: list[int]


def add_stock(session: Session, request: StockRequest) -> StockAdded:
    """Store the device, or raise FieldProblem and store nothing.

    A device whose IMEI is already in stock is refused (409), whatever its data: a
    second device with the same IMEI is a mistake somewhere upstream, and the stored
    one is left as it is.
    """
    taken = repo.identifier_taken(session, request.imei, request.serial)
    if taken is not None:
        raise FieldProblem(*taken, 409)

    status = repo.inventory_status_by_name(session, request.status)
    if status is None:
        raise FieldProblem(
            "status", f"unknown inventory status {quoted(request.status)}"
        )
    warehouse = repo.warehouse_by_name(session, request.warehouse)
    if warehouse is None:
        raise FieldProblem(
            "warehouse", f"unknown warehouse {quoted(request.warehouse)}"
        )
    variation_id = _variation_id(session, request)

    try:
        item = repo.add_inventory_item(
            session,
            variation_id=variation_id,
            status_id=status.id,
            warehouse_id=warehouse.id,
            imei=request.imei,
            serial=request.serial,
            cost=request.cost,
            received_on=request.received_date,
        )
    except repo.IdentifierTaken as exc:
        # Another request stored the same device since the check above.
        raise FieldProblem(exc.field, str(exc), 409) from None
    except IntegrityError:
        raise FieldProblem(
            "imei", "a device with this IMEI or serial is already in stock", 409
        ) from None
    spec = repo.variation_spec(session, variation_id)
    stored = StockItem(
        id=item.id,
        imei=item.imei,
        serial=item.serial,
        variation_id=variation_id,
        manufacturer=spec.manufacturer,
        model=spec.model,
        grade=spec.grade,
        condition=spec.condition,
        storage=spec.storage,
        colour=spec.colour,
        network=spec.network,
        status=status.name,
        warehouse=warehouse.name,
        cost=item.cost,
        received_date=item.received_on,
        created_at=item.created_at,
    )
    return StockAdded(stored, _syncing_accounts(session, status.id, warehouse.id))


def _variation_id(session: Session, request: StockRequest) -> int:
    account_id = None
    if request.account is not None:
        account = get_account(session, request.account)
        if account is None:
            raise FieldProblem("account", f"no account named {quoted(request.account)}")
        account_id = account.id
    spec = None
    if request.manufacturer is not None and request.model is not None:
        spec = VariationSpec(
            request.manufacturer,
            request.model,
            request.grade,
            request.condition,
            request.storage,
            request.colour,
            request.network,
        )
    if request.sku is not None:
        sku = repo.find_sku(session, request.sku, account_id)
        if sku is None:
            raise FieldProblem("sku", f"unknown SKU {quoted(request.sku)}")
        if spec is not None:
            known = repo.variation_spec(session, sku.variation_id)
            if known.key() != spec.key():
                raise FieldProblem(
                    "sku", f"{request.sku} is a different variation than the fields"
                )
        return sku.variation_id
    assert spec is not None, "StockRequest requires a sku or a variation"
    # A device is stock of a variation the catalog has: creating one from a request
    # would turn a typo in a model into a product of its own.
    variation = repo.find_variation(session, spec)
    if variation is not None:
        return variation.id
    if repo.find_product(session, spec.manufacturer, spec.model) is None:
        raise FieldProblem(
            ("manufacturer", "model"),
            f"no product {quoted(spec.manufacturer)} {quoted(spec.model)} in the "
            "catalog; " + ADD_VARIATION_FIRST,
        )
    attributes = ", ".join(
        f"{name} {_shown(getattr(spec, name))}" for name in VARIATION_ATTRIBUTES
    )
    raise FieldProblem(
        VARIATION_ATTRIBUTES,
        f"{spec.manufacturer} {spec.model} has no variation with {attributes}; "
        + ADD_VARIATION_FIRST,
    )


def _syncing_accounts(session: Session, status_id: int, warehouse_id: int) -> list[int]:
    return list(
        session.scalars(
            select(AccountSettings.account_id)
            .join(
                AccountCountedStatus,
                AccountCountedStatus.account_id == AccountSettings.account_id,
            )
            .join(
                AccountCountedWarehouse,
                AccountCountedWarehouse.account_id == AccountSettings.account_id,
            )
            .where(
                AccountSettings.quantity_sync,
                AccountCountedStatus.inventory_status_id == status_id,
                AccountCountedWarehouse.warehouse_id == warehouse_id,
            )
            .order_by(AccountSettings.account_id)
        )
    )


def _shown(value: object) -> str:
    return quoted(value) if isinstance(value, str) else repr(value)
