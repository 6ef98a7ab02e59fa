"""Waking the quantity sync after a command changed what counts as stock."""

import asyncio

from bmsync.commands._db import command_session, err
from database.quantity import syncing_account_ids
from runtime.quantity_client import notify_stock_changed
from runtime.settings import Settings, get_settings
from runtime.stack import NotRunning, running_temporal

# Telling the sync is a courtesy: a command does not hang on an unreachable server.
WAKE_TIMEOUT_S = 10.0


def wake_quantity_sync(reason: str) -> None:
    """Tell the quantity sync of every syncing account that its stock may have moved.

    Only a Temporal server that is already up is told (the configured one, or the
    embedded one of this state directory); a command does not start one for this.
    What is not told now, the periodic reconcile finds.
    """
    with command_session() as session:
        account_ids = syncing_account_ids(session)
    if not account_ids:
        return
    try:
        told = asyncio.run(
            asyncio.wait_for(
                _notify(get_settings(), account_ids, reason), WAKE_TIMEOUT_S
            )
        )
    except (TimeoutError, RuntimeError, OSError):
        told = False
    if not told:
        err.print(
            "note: Temporal is not reachable, so the quantity sync was not told; "
            "its next reconcile pushes the change"
        )


async def _notify(settings: Settings, account_ids: list[int], reason: str) -> bool:
    try:
        client = await running_temporal(settings)
    except NotRunning:
        return False
    await notify_stock_changed(client, settings.task_queue, account_ids, reason)
    return True
