"""`bmsync doctor`: the troubleshooting checklist, answered from the database."""

from typing import Annotated

import typer
from rich.markup import escape

from bmsync.commands._db import OrderId, command_session, fail
from bmsync.commands._tables import make_console
from database.accounts import AccountError, require_account
from database.diagnosis import Check, diagnose_listing, diagnose_order

app = typer.Typer(
    help="Why a listing or an order does not sync: each check with its fix. "
    "Exits 1 when a check fails.",
    no_args_is_help=True,
)
out = make_console()


@app.command("listing")
def listing(
    account: str,
    listing: Annotated[
        str,
        typer.Argument(help="our listing id, Back Market uuid or legacy id, or SKU"),
    ],
) -> None:
    """Why a listing's quantity is or is not updated."""
    with command_session() as session:
        try:
            found = require_account(session, account)
        except AccountError as exc:
            fail(str(exc))
        checks = diagnose_listing(session, found, listing)
    report(checks)


@app.command("order")
def order(account: str, order_id: OrderId) -> None:
    """Why an order is missing, stuck, or did not reach Back Market."""
    with command_session() as session:
        try:
            found = require_account(session, account)
        except AccountError as exc:
            fail(str(exc))
        checks = diagnose_order(session, found, order_id)
    report(checks)


def report(checks: list[Check]) -> None:
    """Print each check and its fix; exit 1 when any failed."""
    for check in checks:
        mark = "[green]ok  [/green]" if check.ok else "[red]FAIL[/red]"
        out.print(f"{mark} {escape(check.name)}: {escape(check.detail)}")
        if not check.ok and check.fix:
            out.print(f"     fix: {escape(check.fix)}", highlight=False)
    failed = sum(not check.ok for check in checks)
    if failed:
        out.print(f"{failed} of {len(checks)} checks failed")
        raise typer.Exit(1)
    out.print(f"all {len(checks)} checks passed")
