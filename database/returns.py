"""RMAs: one per care-folder claim with a customer-to-merchant return label."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from database.inventory import log_sync, order_item_by_orderline
from database.models import Commit, OrderItem, Rma


@dataclass(frozen=True)
class ReturnClaim:
    """What a care folder says about one claim the customer sends back."""

    care_folder_id: int
    claim_id: int
    orderline_id: int | None
    claim_state: int | None
    label_state: str | None
    resolution_choice: str | None


@dataclass(frozen=True)
class RmaLinks:
    sales_order_id: int | None
    order_item_id: int | None
    inventory_item_id: int | None


def upsert_rma(
    session: Session, account_id: int, claim: ReturnClaim, now: datetime
) -> str:
    """Create the claim's RMA or bring it up to date: "created", "updated", "same".

    The (account, claim) unique key makes a claim one RMA however often its folder
    is read, even by two imports at once.
    """
    links = rma_links(session, claim.orderline_id)
    values = {
        "account_id": account_id,
        "care_folder_id": claim.care_folder_id,
        "claim_id": claim.claim_id,
        "orderline_id": claim.orderline_id,
        "claim_state": claim.claim_state,
        "label_state": claim.label_state,
        "resolution_choice": claim.resolution_choice,
        "sales_order_id": links.sales_order_id,
        "order_item_id": links.order_item_id,
        "inventory_item_id": links.inventory_item_id,
    }
    inserted = session.execute(
        insert(Rma)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["account_id", "claim_id"])
        .returning(Rma.id)
    ).scalar()
    if inserted is not None:
        log_sync(
            session,
            account_id=account_id,
            kind="rma_import",
            direction="pull",
            result="ok",
            sales_order_id=links.sales_order_id,
            external_ref=str(claim.claim_id),
            detail=f"RMA from care folder {claim.care_folder_id}, "
            f"label {claim.label_state}",
        )
        return "created"

    rma = session.scalar(
        select(Rma)
        .where(Rma.account_id == account_id, Rma.claim_id == claim.claim_id)
        .with_for_update()
    )
    assert rma is not None
    changes = {
        name: value
        for name, value in values.items()
        # A link found once is kept even if the order is later unreachable.
        if value is not None and getattr(rma, name) != value
    }
    if not changes:
        return "same"
    for name, value in changes.items():
        setattr(rma, name, value)
    rma.updated_at = now
    log_sync(
        session,
        account_id=account_id,
        kind="rma_import",
        direction="pull",
        result="ok",
        sales_order_id=rma.sales_order_id,
        external_ref=str(claim.claim_id),
        detail="RMA updated: " + ", ".join(sorted(changes)),
    )
    return "updated"


def rma_links(session: Session, orderline_id: int | None) -> RmaLinks:
    """The order, order item and device an orderline's return concerns.

    The device is the one committed to the order item: the open commit, else the
    last released one (a refund may already have released it).
    """
    if orderline_id is None:
        return RmaLinks(None, None, None)
    item: OrderItem | None = order_item_by_orderline(session, orderline_id)
    if item is None:
        return RmaLinks(None, None, None)
    device = session.scalar(
        select(Commit.inventory_item_id)
        .where(Commit.order_item_id == item.id)
        .order_by(Commit.released_at.is_not(None), Commit.created_at.desc())
        .limit(1)
    )
    return RmaLinks(item.sales_order_id, item.id, device)


def rmas_of(session: Session, account_id: int) -> list[Rma]:
    return list(
        session.scalars(
            select(Rma).where(Rma.account_id == account_id).order_by(Rma.id)
        )
    )
