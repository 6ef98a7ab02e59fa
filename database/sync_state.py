"""Checkpoints of recurring pulls and the sync log."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from database.models import SyncCheckpoint, SyncLogEntry


def get_checkpoint(session: Session, account_id: int, kind: str) -> datetime | None:
    return session.scalar(
        select(SyncCheckpoint.value_at).where(
            SyncCheckpoint.account_id == account_id, SyncCheckpoint.kind == kind
        )
    )


def set_checkpoint(
    session: Session, account_id: int, kind: str, value: datetime
) -> None:
    """Move a checkpoint forward; it never moves back."""
    statement = insert(SyncCheckpoint).values(
        account_id=account_id, kind=kind, value_at=value
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["account_id", "kind"],
            set_={"value_at": value, "updated_at": datetime.now().astimezone()},
            where=(SyncCheckpoint.value_at.is_(None))
            | (SyncCheckpoint.value_at < value),
        )
    )


def log_sync(
    session: Session,
    *,
    account_id: int | None,
    kind: str,
    direction: str,
    result: str,
    external_ref: str | None = None,
    sales_order_id: int | None = None,
    listing_id: int | None = None,
    error_class: str | None = None,
    detail: str | None = None,
) -> None:
    """Add one line to the sync log; `detail` is a short sentence, never a payload."""
    session.add(
        SyncLogEntry(
            account_id=account_id,
            kind=kind,
            direction=direction,
            result=result,
            external_ref=external_ref,
            sales_order_id=sales_order_id,
            listing_id=listing_id,
            error_class=error_class,
            detail=(detail or "")[:500] or None,
        )
    )
