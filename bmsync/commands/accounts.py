"""`bmsync accounts`: connect Back Market accounts and see them."""

import asyncio
import os
import sys
from typing import Annotated

import typer
from rich.markup import escape

from activities.deps import build_client
from backmarket.errors import BackMarketError, ForbiddenError, UnauthorizedError
from bmsync.commands._db import command_session, fail
from bmsync.commands._tables import make_console, make_table
from database.accounts import (
    AccountError,
    TokenUnavailable,
    create_account,
    encrypt_token,
    env_token_ref,
    get_account,
    list_accounts,
    replace_token,
    token_problem,
)
from database.models import Account
from domain.text import quoted
from runtime.settings import get_settings

TOKEN_ENV = "BMSYNC_TOKEN"
DEFAULT_LOCALES = {"eu": "fr-fr", "us": "en-us", "ap": "ja-jp"}

TokenEnv = Annotated[
    str | None,
    typer.Option(help="read the token from this variable at run time instead"),
]
Check = Annotated[
    bool, typer.Option(help="try the token with one read from Back Market")
]

app = typer.Typer(help="Back Market accounts.", no_args_is_help=True)
out = make_console()


@app.command("add")
def add(
    name: str,
    platform: Annotated[str, typer.Option(help="eu, us or ap")],
    locale: Annotated[str | None, typer.Option(help="e.g. fr-fr; by platform")] = None,
    preprod: Annotated[bool, typer.Option(help="use Back Market's preprod")] = False,
    base_url: Annotated[
        str | None, typer.Option(help="another host, e.g. the sandbox")
    ] = None,
    token_env: TokenEnv = None,
    check: Check = True,
) -> None:
    """Connect an account; the token is stored encrypted or as an env reference."""
    platform = platform.lower()
    if platform not in DEFAULT_LOCALES:
        fail("--platform must be eu, us or ap", code=2)
    with command_session() as session:
        if get_account(session, name) is not None:
            fail(f"an account named {quoted(name)} exists already")
    try:
        token_ref = _token_ref(token_env)
        with command_session() as session:
            account = create_account(
                session,
                name=name,
                platform=platform,
                locale=locale or DEFAULT_LOCALES[platform],
                token_ref=token_ref,
                preprod=preprod,
                base_url=base_url,
            )
            # Refused here, the account is not stored.
            checked = check and _check_token(account)
    except AccountError as exc:
        fail(str(exc))
    out.print(
        f"account [bold]{escape(name)}[/bold] added"
        + (": Back Market took its token" if checked else "")
    )
    if base_url is None and get_settings().contact_email is None:
        out.print(
            "[yellow]note:[/yellow] set BMSYNC_CONTACT_EMAIL (and BMSYNC_COMPANY) "
            "where the worker runs: Back Market asks for them in every request's "
            "User-Agent, and the account's syncs fail without them"
        )
    _note_unset(token_env)


@app.command("set-token")
def set_token(
    name: str,
    token_env: TokenEnv = None,
    check: Check = True,
) -> None:
    """Replace an account's token, e.g. one Back Market revoked; kept only if taken.

    Running workers use it from their next call to Back Market, without a restart.
    """
    with command_session() as session:
        if get_account(session, name) is None:
            fail(f"no account named {quoted(name)}")
    try:
        token_ref = _token_ref(token_env)
        with command_session() as session:
            account = get_account(session, name)
            if account is None:
                fail(f"no account named {quoted(name)}")
            replace_token(session, account, token_ref)
            # Refused here, the old token stays.
            checked = check and _check_token(account)
    except AccountError as exc:
        fail(str(exc))
    out.print(
        f"account [bold]{escape(name)}[/bold]: token replaced"
        + (" and taken by Back Market" if checked else "")
    )
    _note_unset(token_env)


def _token_ref(token_env: str | None) -> str:
    """What is stored of a token: its variable's name, or the token encrypted.

    The token itself comes from BMSYNC_TOKEN, else from a prompt that does not echo,
    else, without a terminal, from a line on standard input.
    """
    if token_env is not None:
        reference = env_token_ref(token_env)
        # Unset here is allowed (the worker's machine may set it); set, it is checked.
        value = os.environ.get(token_env, "")
        problem = token_problem(value) if value.strip() else None
        if problem is not None:
            raise AccountError(f"{token_env}: {problem}")
        return reference
    token = os.environ.get(TOKEN_ENV) or _read_token()
    return encrypt_token(token, get_settings().state_dir)


def _read_token() -> str:
    if sys.stdin.isatty():
        return str(typer.prompt("Back Market API token", hide_input=True))
    # getpass would warn that it echoes, then abort on the empty input.
    line = sys.stdin.readline().strip()
    if not line:
        fail(
            f"no token: set {TOKEN_ENV}, pass --token-env NAME, or run in a "
            "terminal to be asked for it"
        )
    return line


def _note_unset(token_env: str | None) -> None:
    if token_env is not None and not os.environ.get(token_env, "").strip():
        out.print(
            f"[yellow]note:[/yellow] {token_env} is not set here; the worker needs "
            "it set wherever it runs, or every sync of this account fails"
        )


def _check_token(account: Account) -> bool:
    """Whether the token was tried; fails the command when Back Market refuses it."""
    settings = get_settings()
    try:
        client = build_client(
            account,
            company=settings.company,
            contact_email=settings.contact_email,
            state_dir=settings.state_dir,
        )
    except TokenUnavailable:
        return False
    except LookupError as exc:
        fail(f"{exc}; or add the account with --no-check")

    async def read_once() -> None:
        async with client:
            await client.check_token()

    try:
        asyncio.run(read_once())
    except (UnauthorizedError, ForbiddenError) as exc:
        fail(
            f"Back Market refused the token ({exc.status}): check it and try "
            "again; nothing was stored"
        )
    except BackMarketError as exc:
        fail(
            f"could not try the token at {client.base_url}: {exc}; run again "
            "with --no-check to store it untried"
        )
    return True


@app.command("list")
def list_() -> None:
    """Every account."""
    with command_session() as session:
        accounts = list_accounts(session)
        table = make_table("name", "platform", "locale", "preprod", "host", "token")
        for account in accounts:
            table.add_row(*_row(account))
    out.print(table)


@app.command("show")
def show(name: str) -> None:
    """One account."""
    with command_session() as session:
        account = get_account(session, name)
        if account is None:
            fail(f"no account named {quoted(name)}")
        table = make_table("field", "value", show_header=False)
        for field, value in zip(
            ("name", "platform", "locale", "preprod", "host", "token"),
            _row(account),
            strict=True,
        ):
            table.add_row(field, value)
    out.print(table)


def _row(account: Account) -> tuple[str, ...]:
    return (
        escape(account.name),
        account.platform,
        account.locale,
        "yes" if account.preprod else "no",
        escape(account.base_url or "Back Market"),
        _token_source(account.token_ref),
    )


def _token_source(token_ref: str) -> str:
    """Where the token comes from, never the token nor its ciphertext."""
    kind, _, rest = token_ref.partition(":")
    return f"env {rest}" if kind == "env" else "encrypted"
