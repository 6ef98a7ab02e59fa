"""Accounts, their tokens, and their settings.

A token is stored as a reference, never in the clear: `env:NAME` reads it from that
environment variable at run time; `enc:<ciphertext>` is Fernet-encrypted with the key
in BMSYNC_SECRET_KEY or, when that is unset, in `<state dir>/secret.key` (created with
mode 0600 on first use). Nothing here logs, prints or raises with a token in it.
"""

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from backmarket.client import HOSTS, LOCALES
from backmarket.client import Platform as BackMarketPlatform
from database.inventory import (
    inventory_status_by_name,
    sales_order_status_by_name,
    warehouse_by_name,
)
from database.models import (
    Account,
    AccountCountedStatus,
    AccountCountedWarehouse,
    AccountSettings,
    AccountStatusMap,
    BackMarketPhase,
    InventoryStatus,
    ListingImportScope,
    OrganizationType,
    Platform,
    SalesOrderStatus,
    Warehouse,
)
from domain.text import quoted
from runtime.settings import get_settings

SECRET_KEY_ENV = "BMSYNC_SECRET_KEY"
SECRET_KEY_FILE = "secret.key"

# What a new account counts and how it maps Back Market phases, given the seeded
# statuses; names missing from the database are skipped, not invented.
DEFAULT_COUNTED_STATUSES = ("Available",)
DEFAULT_COUNTED_WAREHOUSES = ("Main",)
DEFAULT_STATUS_MAP = {
    BackMarketPhase.NEW: "Open",
    BackMarketPhase.PAID: "Open",
    BackMarketPhase.VALIDATED: "Validated",
    BackMarketPhase.SHIPPED: "Shipped",
    BackMarketPhase.CANCELLED: "Cancelled",
    BackMarketPhase.REFUNDED: "Refunded",
}


class AccountError(ValueError):
    """A request about accounts that cannot be honoured; the message says why."""


class TokenUnavailable(RuntimeError):
    """The token cannot be read; the message names where it was looked for."""


# --- accounts ---------------------------------------------------------------------


ACCOUNT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def create_account(
    session: Session,
    *,
    name: str,
    platform: str,
    locale: str,
    token_ref: str,
    preprod: bool = False,
    base_url: str | None = None,
) -> Account:
    """A new account with default settings, counted stock and status mapping."""
    if not ACCOUNT_NAME.fullmatch(name):
        raise AccountError(
            f"account name {quoted(name)}: use 1 to 100 letters, digits, '.', '_' "
            "or '-'"
        )
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        raise AccountError(
            f"base URL {quoted(base_url)} must start with http:// or https://"
        )
    if platform not in {p.value for p in Platform}:
        raise AccountError(
            f"platform must be one of eu, us, ap, not {quoted(platform)}"
        )
    locales = LOCALES[BackMarketPlatform(platform)]
    if locale not in locales:
        raise AccountError(
            f"locale must be one of {', '.join(locales)} on {platform}, not "
            f"{quoted(locale)}"
        )
    if not token_ref.startswith(("env:", "enc:")):
        raise AccountError("token_ref must start with 'env:' or 'enc:'")
    if get_account(session, name) is not None:
        raise AccountError(f"an account named {quoted(name)} exists already")
    account = Account(
        name=name,
        platform=platform,
        locale=locale,
        token_ref=token_ref,
        preprod=preprod,
        base_url=base_url,
    )
    _refuse_shared_token(session, account)
    account.settings = AccountSettings()
    session.add(account)
    session.flush()

    for status_name in DEFAULT_COUNTED_STATUSES:
        status = inventory_status_by_name(session, status_name)
        if status is not None:
            session.add(
                AccountCountedStatus(
                    account_id=account.id, inventory_status_id=status.id
                )
            )
    for warehouse_name in DEFAULT_COUNTED_WAREHOUSES:
        warehouse = warehouse_by_name(session, warehouse_name)
        if warehouse is not None:
            session.add(
                AccountCountedWarehouse(
                    account_id=account.id, warehouse_id=warehouse.id
                )
            )
    for phase, status_name in DEFAULT_STATUS_MAP.items():
        order_status = sales_order_status_by_name(session, status_name)
        if order_status is not None:
            session.add(
                AccountStatusMap(
                    account_id=account.id,
                    phase=phase.value,
                    sales_order_status_id=order_status.id,
                )
            )
    session.flush()
    return account


def list_accounts(session: Session) -> list[Account]:
    return list(session.scalars(select(Account).order_by(Account.name)))


def get_account(session: Session, name: str) -> Account | None:
    return session.scalar(select(Account).where(Account.name == name))


def require_account(session: Session, name: str) -> Account:
    account = get_account(session, name)
    if account is None:
        raise AccountError(f"no account named {quoted(name)}")
    return account


def host_of(account: Account) -> str:
    """The host the account's requests go to."""
    host = (
        account.base_url
        or HOSTS[(BackMarketPlatform(account.platform), account.preprod)]
    )
    return host.rstrip("/")


def replace_token(session: Session, account: Account, token_ref: str) -> None:
    """Give the account another token, e.g. when Back Market revoked its own."""
    if not token_ref.startswith(("env:", "enc:")):
        raise AccountError("token_ref must start with 'env:' or 'enc:'")
    account.token_ref = token_ref
    _refuse_shared_token(session, account)
    session.flush()


def _refuse_shared_token(session: Session, account: Account) -> None:
    holder = token_holder(session, account)
    if holder is not None:
        # Two accounts of one merchant would import the same orders, and clash.
        raise AccountError(
            f"account {holder.name!r} already uses this token on {host_of(account)}:"
            " a Back Market merchant is connected once"
        )


def token_holder(session: Session, account: Account) -> Account | None:
    """Another account with the same token on the same host, if any.

    Tokens are compared in the clear: decrypted, or read from their environment
    variable; a token that cannot be read here (its variable unset) is not compared.
    """
    token = _readable_token(account)
    if token is None:
        return None
    host = host_of(account)
    for other in list_accounts(session):
        if other is not account and host_of(other) == host:
            if _readable_token(other) == token:
                return other
    return None


def _readable_token(account: Account) -> str | None:
    try:
        return resolve_token(account).strip()
    except TokenUnavailable:
        return None


# --- tokens -----------------------------------------------------------------------


def env_token_ref(variable: str) -> str:
    if not variable or not variable.replace("_", "").isalnum():
        raise AccountError(f"{quoted(variable)} is not an environment variable name")
    return f"env:{variable}"


# Back Market's tokens are long random strings; anything this short is a slip.
MIN_TOKEN_LENGTH = 16


def token_problem(token: str) -> str | None:
    """Why `token` cannot be a Back Market token, never quoting it; None if it can."""
    cleaned = token.strip()
    if not cleaned:
        return "the token is empty"
    if len(cleaned) < MIN_TOKEN_LENGTH:
        return (
            f"the token is {len(cleaned)} characters; a Back Market token has "
            f"{MIN_TOKEN_LENGTH} or more"
        )
    if any(char.isspace() or not char.isprintable() for char in cleaned):
        return "the token holds a space or a character that is not printable"
    return None


def encrypt_token(token: str, state_dir: Path | None = None) -> str:
    """A token reference holding the token encrypted with the secret key."""
    problem = token_problem(token)
    if problem is not None:
        raise AccountError(problem)
    ciphertext = Fernet(secret_key(state_dir)).encrypt(token.strip().encode())
    return f"enc:{ciphertext.decode()}"


def resolve_token(account: Account, state_dir: Path | None = None) -> str:
    """The account's token in the clear, for the Back Market client only."""
    kind, _, rest = account.token_ref.partition(":")
    if kind == "env":
        value = os.environ.get(rest, "").strip()
        if not value:
            raise TokenUnavailable(
                f"account {account.name!r}: environment variable {rest} is not set"
            )
        return value
    if kind == "enc":
        try:
            return Fernet(secret_key(state_dir)).decrypt(rest.encode()).decode()
        except InvalidToken:
            # Deliberately without the cause: it would carry the ciphertext.
            raise TokenUnavailable(
                f"account {account.name!r}: the token does not decrypt with the "
                f"current secret key ({SECRET_KEY_ENV} or {SECRET_KEY_FILE})"
            ) from None
    raise TokenUnavailable(f"account {account.name!r}: unknown token reference kind")


def secret_key(state_dir: Path | None = None) -> bytes:
    """The Fernet key: from the environment, else the state dir's key file."""
    if state_dir is None:
        state_dir = get_settings().state_dir
    configured = os.environ.get(SECRET_KEY_ENV)
    if configured:
        return configured.strip().encode()
    path = state_dir / SECRET_KEY_FILE
    if path.exists():
        return path.read_bytes().strip()
    state_dir.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    # Created with 0600 from the start, so the key is never readable by others.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key)
    return key


# --- settings ---------------------------------------------------------------------

# Bounds that keep values inside their columns and sensible: a week at most between
# two runs of a sync, and no buffer larger than any stock.
MIN_INTERVAL_S = 5
MAX_INTERVAL_S = 7 * 24 * 3600
MAX_BUFFER = 100_000


@dataclass(frozen=True)
class SettingSpec:
    """One setting operators may set: its column and how its text value parses."""

    column: str
    parse: Callable[[str], object]
    help: str


def _boolean(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"on", "true", "yes", "1"}:
        return True
    if lowered in {"off", "false", "no", "0"}:
        return False
    raise AccountError(f"{quoted(value)} is not on/off")


def _whole_number(value: str, low: int, high: int, unit: str = "") -> int:
    try:
        number = int(value)
    except ValueError:
        raise AccountError(f"{quoted(value)} is not a whole number") from None
    if not low <= number <= high:
        raise AccountError(
            f"must be {low} to {high}{unit}, not {quoted(value.strip())}"
        )
    return number


def _buffer(value: str) -> int:
    return _whole_number(value, 0, MAX_BUFFER)


def _interval(value: str) -> int:
    return _whole_number(value, MIN_INTERVAL_S, MAX_INTERVAL_S, " seconds")


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in choices:
            raise AccountError(f"{quoted(value)} is not one of {', '.join(choices)}")
        return value

    return parse


SETTINGS: dict[str, SettingSpec] = {
    "order-import": SettingSpec("order_import", _boolean, "import orders"),
    "auto-validate": SettingSpec(
        "auto_validate", _boolean, "accept lines on Back Market when imported"
    ),
    "listing-import": SettingSpec("listing_import", _boolean, "import listings"),
    "listing-import-scope": SettingSpec(
        "listing_import_scope",
        _choice(*(s.value for s in ListingImportScope)),
        "online listings only, or all",
    ),
    "auto-import-new-listings": SettingSpec(
        "auto_import_new_listings", _boolean, "import listings created since"
    ),
    "rma-import": SettingSpec("rma_import", _boolean, "import returns"),
    "organization-type": SettingSpec(
        "organization_type",
        _choice(*(o.value for o in OrganizationType)),
        "customer named after the shipping name, or one 'Back Market' customer",
    ),
    "quantity-sync": SettingSpec("quantity_sync", _boolean, "push quantities"),
    "backpricer": SettingSpec("backpricer", _boolean, "BackPricer on Back Market"),
    "imei-sync": SettingSpec("imei_sync", _boolean, "send committed IMEIs"),
    "safety-buffer": SettingSpec(
        "safety_buffer", _buffer, "units held back from every listing"
    ),
    "overwrite-foreign-writes": SettingSpec(
        "overwrite_foreign_writes",
        _boolean,
        "push even when another system wrote the quantity",
    ),
    "order-import-interval-s": SettingSpec(
        "order_import_interval_s", _interval, "seconds between order imports"
    ),
    "listing-import-interval-s": SettingSpec(
        "listing_import_interval_s", _interval, "seconds between listing imports"
    ),
    "quantity-reconcile-interval-s": SettingSpec(
        "quantity_reconcile_interval_s", _interval, "seconds between reconciles"
    ),
    "rma-import-interval-s": SettingSpec(
        "rma_import_interval_s", _interval, "seconds between RMA imports"
    ),
    "pricing-interval-s": SettingSpec(
        "pricing_interval_s", _interval, "seconds between BackPricer reads"
    ),
}
COUNTED_STATUSES = "counted-statuses"
COUNTED_WAREHOUSES = "counted-warehouses"
STATUS_MAP_PREFIX = "status-map."


def setting_keys() -> list[str]:
    """Every key `set_setting` accepts."""
    return [
        *SETTINGS,
        COUNTED_STATUSES,
        COUNTED_WAREHOUSES,
        *(STATUS_MAP_PREFIX + phase.value for phase in BackMarketPhase),
    ]


def setting_meaning(key: str) -> str:
    """What a setting means, in the words `settings show` prints beside it."""
    if key in SETTINGS:
        return SETTINGS[key].help
    if key == COUNTED_STATUSES:
        return "inventory statuses whose devices count as available"
    if key == COUNTED_WAREHOUSES:
        return "warehouses whose devices count as available"
    if key.startswith(STATUS_MAP_PREFIX):
        phase = key.removeprefix(STATUS_MAP_PREFIX)
        return f"our sales order status for an order Back Market shows {phase}"
    return ""


def set_setting(session: Session, account: Account, key: str, value: str) -> None:
    """Change one setting from its text form; AccountError when key or value is bad."""
    if key in SETTINGS:
        spec = SETTINGS[key]
        try:
            parsed = spec.parse(value)
        except AccountError as exc:
            raise AccountError(f"{key}: {exc}") from None
        setattr(account.settings, spec.column, parsed)
    elif key == COUNTED_STATUSES:
        set_counted_statuses(session, account.id, _names(key, value))
    elif key == COUNTED_WAREHOUSES:
        set_counted_warehouses(session, account.id, _names(key, value))
    elif key.startswith(STATUS_MAP_PREFIX):
        set_status_map(session, account.id, key.removeprefix(STATUS_MAP_PREFIX), value)
    else:
        raise AccountError(
            f"unknown setting {quoted(key)}; one of: {', '.join(setting_keys())}"
        )
    session.flush()


# Orders in these phases hold units that are sold but not yet shipped.
OPEN_PHASES = frozenset(
    {BackMarketPhase.NEW, BackMarketPhase.PAID, BackMarketPhase.VALIDATED}
)


def _names(key: str, value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        # Nothing counted means every listing's quantity is 0.
        raise AccountError(
            f"{key}: give at least one name, comma-separated; to stop pushing "
            "quantities, set quantity-sync off"
        )
    return names


def set_counted_statuses(
    session: Session, account_id: int, names: Sequence[str]
) -> None:
    """Replace the inventory statuses whose devices count as available."""
    ids = []
    for name in names:
        status = inventory_status_by_name(session, name)
        if status is None:
            raise AccountError(
                f"counted-statuses: unknown inventory status {quoted(name)}"
            )
        ids.append(status.id)
    session.execute(
        delete(AccountCountedStatus).where(
            AccountCountedStatus.account_id == account_id
        )
    )
    session.add_all(
        AccountCountedStatus(account_id=account_id, inventory_status_id=i)
        for i in set(ids)
    )
    session.flush()


def set_counted_warehouses(
    session: Session, account_id: int, names: Sequence[str]
) -> None:
    """Replace the warehouses whose devices count as available."""
    ids = []
    for name in names:
        warehouse = warehouse_by_name(session, name)
        if warehouse is None:
            raise AccountError(f"counted-warehouses: unknown warehouse {quoted(name)}")
        ids.append(warehouse.id)
    session.execute(
        delete(AccountCountedWarehouse).where(
            AccountCountedWarehouse.account_id == account_id
        )
    )
    session.add_all(
        AccountCountedWarehouse(account_id=account_id, warehouse_id=i) for i in set(ids)
    )
    session.flush()


def set_status_map(
    session: Session, account_id: int, phase: str, status_name: str
) -> None:
    """Map a Back Market phase to one of our sales order statuses."""
    if phase not in {p.value for p in BackMarketPhase}:
        phases = ", ".join(p.value for p in BackMarketPhase)
        raise AccountError(
            f"unknown Back Market phase {quoted(phase)}; one of: {phases}"
        )
    status = sales_order_status_by_name(session, status_name)
    if status is None:
        raise AccountError(
            f"status-map.{phase}: unknown sales order status {quoted(status_name)}; "
            "see bmsync catalog statuses list"
        )
    must_be_open = phase in OPEN_PHASES
    if status.counts_as_open != must_be_open:
        # Outstanding units follow the status: a sold order that does not count as
        # open oversells, a finished one that does holds stock back for ever.
        wanted = "counts as open" if must_be_open else "does not count as open"
        raise AccountError(
            f"status-map.{phase}: {status.name!r} "
            f"{'does not count' if must_be_open else 'counts'} as open; an order "
            f"that is {phase} needs a status that {wanted}"
        )
    mapping = session.get(AccountStatusMap, (account_id, phase))
    if mapping is None:
        session.add(
            AccountStatusMap(
                account_id=account_id, phase=phase, sales_order_status_id=status.id
            )
        )
    else:
        mapping.sales_order_status_id = status.id
    session.flush()


@dataclass(frozen=True)
class SettingsView:
    """Every setting of an account in its text form, for display."""

    values: dict[str, str]


def settings_view(session: Session, account: Account) -> SettingsView:
    values: dict[str, str] = {}
    for key, spec in SETTINGS.items():
        value = getattr(account.settings, spec.column)
        values[key] = (
            ("on" if value else "off") if isinstance(value, bool) else str(value)
        )
    values[COUNTED_STATUSES] = ", ".join(
        session.scalars(
            select(InventoryStatus.name)
            .join(
                AccountCountedStatus,
                AccountCountedStatus.inventory_status_id == InventoryStatus.id,
            )
            .where(AccountCountedStatus.account_id == account.id)
            .order_by(InventoryStatus.name)
        )
    )
    values[COUNTED_WAREHOUSES] = ", ".join(
        session.scalars(
            select(Warehouse.name)
            .join(
                AccountCountedWarehouse,
                AccountCountedWarehouse.warehouse_id == Warehouse.id,
            )
            .where(AccountCountedWarehouse.account_id == account.id)
            .order_by(Warehouse.name)
        )
    )
    mapped = dict(
        session.execute(
            select(AccountStatusMap.phase, SalesOrderStatus.name)
            .join(
                SalesOrderStatus,
                SalesOrderStatus.id == AccountStatusMap.sales_order_status_id,
            )
            .where(AccountStatusMap.account_id == account.id)
        ).all()
    )
    for phase in BackMarketPhase:
        values[STATUS_MAP_PREFIX + phase.value] = mapped.get(phase.value, "(unmapped)")
    return SettingsView(values)
