"""What the activities need, built once per worker process."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from activities.errors import rejected
from backmarket import BackMarketClient, Platform
from database.accounts import TokenUnavailable, resolve_token
from database.models import Account
from database.session import make_engine, make_session_factory
from runtime.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_COMPANY = "Bmsync"
INTEGRATION = "Sync"
OTHER_HOST_CONTACT = "bmsync@localhost"


@dataclass
class BackMarketClients:
    """One Back Market client per account, shared by every activity of the worker.

    The account is read on every call, so a new token or host (`bmsync accounts
    set-token`, say) is used from the next activity on, without a restart.
    """

    session_factory: sessionmaker[Session]
    # Who we are in every request's User-Agent, as Back Market asks.
    company: str = DEFAULT_COMPANY
    contact_email: str | None = None
    # Tests hand the sandbox's ASGI app in here instead of a network hop.
    transport: httpx.AsyncBaseTransport | None = None
    # Where the key that decrypts stored tokens lives, when not the default.
    state_dir: Path | None = None
    _clients: dict[int, tuple[AccountAccess, BackMarketClient]] = field(
        default_factory=dict
    )
    # Clients of an account's former token or host: activities may still be using
    # them, so they are closed only with the rest.
    _replaced: list[BackMarketClient] = field(default_factory=list)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    def for_settings(
        cls, session_factory: sessionmaker[Session], settings: Settings
    ) -> BackMarketClients:
        return cls(
            session_factory,
            company=settings.company,
            contact_email=settings.contact_email,
            state_dir=settings.state_dir,
        )

    async def get(self, account_id: int) -> BackMarketClient:
        async with self._lock:
            try:
                _, client = await asyncio.to_thread(self._build, account_id)
            except (LookupError, TokenUnavailable) as exc:
                # A person must fix the account; retrying changes nothing.
                raise rejected(str(exc), "AccountMissing") from None
            return client

    def _build(self, account_id: int) -> tuple[AccountAccess, BackMarketClient]:
        """The cached client while the account's access is unchanged, else a new one."""
        with self.session_factory() as session:
            account = session.get(Account, account_id)
            if account is None:
                raise LookupError(f"account {account_id} does not exist")
            access = AccountAccess.of(account)
            cached = self._clients.get(account_id)
            if cached is not None and cached[0] == access:
                return cached
            client = build_client(
                account,
                company=self.company,
                contact_email=self.contact_email,
                state_dir=self.state_dir,
                transport=self.transport,
            )
        if cached is not None:
            log.info("account access changed", extra={"account_id": account_id})
            self._replaced.append(cached[1])
        self._clients[account_id] = (access, client)
        return access, client

    async def close(self) -> None:
        for _, client in self._clients.values():
            await client.aclose()
        for client in self._replaced:
            await client.aclose()
        self._clients.clear()
        self._replaced.clear()


@dataclass(frozen=True)
class AccountAccess:
    """What a client of an account is built from; a change means a new client."""

    token_ref: str
    platform: str
    preprod: bool
    base_url: str | None
    locale: str

    @classmethod
    def of(cls, account: Account) -> AccountAccess:
        return cls(
            account.token_ref,
            account.platform,
            account.preprod,
            account.base_url,
            account.locale,
        )


def build_client(
    account: Account,
    *,
    company: str,
    contact_email: str | None,
    state_dir: Path | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> BackMarketClient:
    """A client of the account's host with its token; LookupError when unusable."""
    token = resolve_token(account, state_dir)
    contact = contact_email
    if contact is None:
        if account.base_url is None:
            raise LookupError(
                f"account {account.name}: BMSYNC_CONTACT_EMAIL is not set, "
                "and Back Market asks for a contact email in every request"
            )
        # Another host (the sandbox) is not Back Market: any contact does.
        contact = OTHER_HOST_CONTACT
    return BackMarketClient(
        token=token,
        platform=Platform(account.platform),
        preprod=account.preprod,
        base_url=account.base_url,
        locale=account.locale,
        company=company,
        integration=INTEGRATION,
        contact_email=contact,
        transport=transport,
    )


@dataclass
class ActivityDeps:
    session_factory: sessionmaker[Session]
    clients: BackMarketClients
    temporal: Client
    task_queue: str

    @classmethod
    def create(
        cls, database_url: str, temporal: Client, settings: Settings
    ) -> ActivityDeps:
        session_factory = make_session_factory(make_engine(database_url))
        return cls(
            session_factory=session_factory,
            clients=BackMarketClients.for_settings(session_factory, settings),
            temporal=temporal,
            task_queue=settings.task_queue,
        )

    async def close(self) -> None:
        await self.clients.close()
        bind = self.session_factory.kw.get("bind")
        if bind is not None:
            bind.dispose()
