"""Inputs of the bookkeeping every scheduled run shares."""

from pydantic import BaseModel


class RecordFailedRunInput(BaseModel):
    """A run of a sync that failed, for the account's sync log."""

    account_id: int
    kind: str
    direction: str
    error_class: str | None = None
    reason: str
