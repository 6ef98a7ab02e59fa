"""Records Back Market listed but that do not fit our models.

Each one is logged and left out, so one bad record never stops a sync; and since
it was listed, it is not taken for gone.
"""

import logging
import uuid

from sqlalchemy.orm import Session

from backmarket.client import SkippedItem
from database.inventory import log_sync

log = logging.getLogger(__name__)


def record_unreadable(
    session: Session, account_id: int, kind: str, skipped: list[SkippedItem]
) -> None:
    """Log every skipped record in the sync history, with what did not fit."""
    for item in skipped:
        log.warning(
            "record skipped",
            extra={
                "account_id": account_id,
                "kind": kind,
                "object_id": item.object_id,
                "error": item.error.kind,
            },
        )
        log_sync(
            session,
            account_id=account_id,
            kind=kind,
            direction="pull",
            result="failed",
            external_ref=None if item.object_id is None else item.object_id[:100],
            error_class=item.error.kind,
            detail=str(item.error),
        )


def unreadable_ids(skipped: list[SkippedItem]) -> set[str] | None:
    """The ids of the skipped records; None when one of them came without an id."""
    ids = {item.object_id for item in skipped}
    if None in ids:
        return None
    return {object_id for object_id in ids if object_id is not None}


def unreadable_uuids(skipped: list[SkippedItem]) -> set[uuid.UUID] | None:
    """As `unreadable_ids`, for listings: None also when an id is not a uuid."""
    ids = unreadable_ids(skipped)
    if ids is None:
        return None
    try:
        return {uuid.UUID(object_id) for object_id in ids}
    except ValueError:
        return None
