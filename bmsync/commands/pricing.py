"""`bmsync pricing`: BackPricer prices, BackBox standing and comments."""

import asyncio
from decimal import Decimal
from typing import Annotated

import typer
from rich.markup import escape
from temporalio.exceptions import ApplicationError

from activities.deps import BackMarketClients
from activities.pricing import apply_pricing
from bmsync.commands._db import command_session, database_url, fail, validated
from bmsync.commands._tables import key, make_console, make_table
from database.accounts import AccountError, require_account
from database.inventory import NotFound
from database.listings import find_listing, pricing_rows
from database.session import make_engine, make_session_factory
from domain.listings import SetPricingInput
from runtime.settings import get_settings

app = typer.Typer(
    help="BackPricer: prices, min prices, BackBox standing, comments.",
    no_args_is_help=True,
)
out = make_console()


@app.command("show")
def show(account: str) -> None:
    """Price, min price, price to win, whether we win the BackBox, and the comment."""
    with command_session() as session:
        try:
            account_id = require_account(session, account).id
        except AccountError as exc:
            fail(str(exc))
        rows = pricing_rows(session, account_id)
    table = make_table(
        key("listing"), key("sku"), "price", "min price", "to win", "winning", "comment"
    )
    for row in rows:
        winning = {True: "yes", False: "no", None: "-"}[row.winning]
        table.add_row(
            str(row.id),
            escape(row.sku),
            _money(row.price),
            _money(row.min_price),
            _money(row.price_to_win),
            winning
            if row.backbox_note != "no BackBox for this listing"
            else "no BackBox",
            escape((row.comment or "")[:60]),
        )
    out.print(table)


@app.command("set")
def set_(
    account: str,
    listing: Annotated[str, typer.Argument(help="our id, Back Market's uuid or SKU")],
    min_price: Annotated[
        Decimal | None, typer.Option(help="0 or more, in the listing's currency")
    ] = None,
    price: Annotated[
        Decimal | None, typer.Option(help="more than 0, in the listing's currency")
    ] = None,
    comment: Annotated[str | None, typer.Option(help="at most 500 characters")] = None,
) -> None:
    """Change a listing's min price, price or comment on Back Market, then here."""
    if min_price is None and price is None and comment is None:
        fail("give --min-price, --price or --comment", 2)
    # Checked before anything is looked up, so a typo is named first.
    request = validated(
        SetPricingInput,
        {"min_price": "--min-price", "price": "--price", "comment": "--comment"},
        account_id=0,
        listing_id=0,
        min_price=min_price,
        price=price,
        comment=comment,
    )
    with command_session() as session:
        try:
            account_id = require_account(session, account).id
            listing_id = find_listing(session, account_id, listing).id
        except (AccountError, NotFound) as exc:
            fail(str(exc))
    request = request.model_copy(
        update={"account_id": account_id, "listing_id": listing_id}
    )
    engine = make_engine(database_url(), pool_size=1)
    session_factory = make_session_factory(engine)

    async def run() -> None:
        clients = BackMarketClients.for_settings(session_factory, get_settings())
        try:
            client = await clients.get(account_id)
            row = await apply_pricing(session_factory, client, request)
            out.print(
                f"{escape(row.sku)}: price {_money(row.price)}, min price "
                f"{_money(row.min_price)}"
            )
            if row.price is not None and row.min_price is not None:
                if row.price < row.min_price:
                    out.print(
                        "[yellow]note:[/yellow] the price is below the min price; "
                        "BackPricer will not go lower than the min price"
                    )
        finally:
            await clients.close()

    try:
        asyncio.run(run())
    except ApplicationError as exc:
        fail(f"Back Market refused the change: {exc.message}")
    except Exception as exc:  # noqa: BLE001 - the operator reads the reason
        fail(f"{type(exc).__name__}: {exc}")
    finally:
        engine.dispose()


def _money(value: Decimal | None) -> str:
    return "-" if value is None else format(value, "f")
