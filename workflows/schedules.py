"""The scheduled syncs and the account settings that turn each one on."""

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from domain.orders import ImportOrdersInput


@dataclass(frozen=True)
class ScheduledSync:
    name: str
    workflow: str
    enabled_setting: str
    interval_setting: str
    make_input: Callable[[int], BaseModel]


SCHEDULED_SYNCS: tuple[ScheduledSync, ...] = (
    ScheduledSync(
        name="orders-import",
        workflow="ImportOrdersWorkflow",
        enabled_setting="order_import",
        interval_setting="order_import_interval_s",
        make_input=lambda account_id: ImportOrdersInput(account_id=account_id),
    ),
)
