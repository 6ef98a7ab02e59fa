"""Inputs and results of the RMA import."""

from datetime import datetime

from pydantic import BaseModel, Field


class ImportReturnsInput(BaseModel):
    account_id: int
    force: bool = False


class ReturnsPlan(BaseModel):
    enabled: bool
    since: datetime | None = None


class FetchCareFoldersInput(BaseModel):
    account_id: int
    since: datetime | None = None


class FetchCareFoldersResult(BaseModel):
    folder_ids: list[int] = Field(default_factory=list)
    newest_modification: datetime | None = None


class StoreReturnsInput(BaseModel):
    account_id: int
    folder_ids: list[int]


class StoreReturnsResult(BaseModel):
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    not_returns: int = 0
    # Folders Back Market sent that do not fit our models: logged, left out.
    failed: int = 0


class SaveReturnsCheckpointInput(BaseModel):
    account_id: int
    value: datetime


class ImportReturnsResult(BaseModel):
    skipped: bool = False
    folders: int = 0
    created: int = 0
    updated: int = 0
    # Folders that do not fit our models: in the sync log, left out.
    failed: int = 0
    checkpoint: datetime | None = None
