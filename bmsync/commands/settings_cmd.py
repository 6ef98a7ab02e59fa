"""`bmsync settings`: an account's sync settings."""

import typer
from rich.markup import escape

from bmsync.commands._db import command_session, fail
from bmsync.commands._tables import make_console, make_table
from bmsync.commands._wake import wake_quantity_sync
from database.accounts import (
    COUNTED_STATUSES,
    COUNTED_WAREHOUSES,
    STATUS_MAP_PREFIX,
    AccountError,
    require_account,
    set_setting,
    setting_keys,
    setting_meaning,
    settings_view,
)
from domain.text import quoted

app = typer.Typer(help="Per-account settings.", no_args_is_help=True)
out = make_console()

# Settings that change what a listing's calculated quantity is, or whether it is
# pushed at all.
MOVES_QUANTITIES = {
    "quantity-sync",
    "safety-buffer",
    "overwrite-foreign-writes",
    COUNTED_STATUSES,
    COUNTED_WAREHOUSES,
}


@app.command("show")
def show(account: str) -> None:
    """Every setting of an account."""
    with command_session() as session:
        try:
            view = settings_view(session, require_account(session, account))
        except AccountError as exc:
            fail(str(exc))
    table = make_table("key", "value", "meaning")
    for key, value in view.values.items():
        table.add_row(key, escape(value), escape(setting_meaning(key)))
    out.print(table)


# A value such as -1 is the value, to be refused by the setting's own rule, rather
# than an option the command does not have.
@app.command("set", context_settings={"ignore_unknown_options": True})
def set_(account: str, key: str, value: str) -> None:
    """Change one setting, e.g. `quantity-sync on` or `status-map.paid Open`.

    counted-statuses and counted-warehouses take comma-separated names.
    """
    if key not in setting_keys():
        fail(f"unknown setting {quoted(key)}; one of: {', '.join(setting_keys())}", 2)
    with command_session() as session:
        try:
            found = require_account(session, account)
        except AccountError as exc:
            fail(str(exc))
        try:
            set_setting(session, found, key, value)
        except AccountError as exc:
            fail(str(exc), 2)
        # What was stored, as `settings show` gives it: "on" for "ON", the status's
        # own spelling for "open".
        stored = settings_view(session, found).values[key]
    out.print(f"{escape(account)}: {key} = {escape(stored)}")
    if key in MOVES_QUANTITIES or key.startswith(STATUS_MAP_PREFIX):
        wake_quantity_sync(f"setting {key} changed")
