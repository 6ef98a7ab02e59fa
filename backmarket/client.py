"""The async Back Market client: one instance per account, on one `httpx.AsyncClient`.

Every call is paced per token (see `pacing`), maps failures onto `errors`, and parses
answers into `models`. Writes are never repeated here: Back Market has no idempotency
keys, so whether to repeat a write, after reading the current state, is the caller's
decision. Reads may be retried when `get_retries` is set; by default they are not, and
the workflows decide.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, ValidationError

from backmarket.errors import (
    BackMarketConnectionError,
    BackMarketError,
    BackMarketTimeout,
    PayloadError,
    RateLimitedError,
    error_from_response,
    payload_error,
)
from backmarket.models import (
    CareFolder,
    CareFolderSummary,
    CompetitorEntry,
    Listing,
    ListingUpdate,
    Order,
    OrderlineIdentifiers,
    Task,
)
from backmarket.pacing import Limits, Pacer, Scope, pacer_for_token

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


class Platform(StrEnum):
    EU = "eu"
    US = "us"
    AP = "ap"


HOSTS: dict[tuple[Platform, bool], str] = {
    (Platform.EU, False): "https://www.backmarket.fr",
    (Platform.EU, True): "https://preprod.backmarket.fr",
    (Platform.US, False): "https://www.backmarket.com",
    (Platform.US, True): "https://preprod.backmarket.com",
    (Platform.AP, False): "https://www.backmarket.co.jp",
    (Platform.AP, True): "https://preprod.backmarket.co.jp",
}

LOCALES: dict[Platform, tuple[str, ...]] = {
    Platform.EU: (
        "fr-fr",
        "fr-be",
        "es-es",
        "de-de",
        "de-at",
        "it-it",
        "en-gb",
        "nl-nl",
        "pt-pt",
        "en-ie",
        "el-gr",
        "sk-sk",
        "sv-se",
    ),
    Platform.US: ("en-us",),
    Platform.AP: ("ja-jp", "en-au"),
}

# Connect fails fast; a read may take a while on a loaded catalog page.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
PAGE_SIZE = 50
MAX_BULK_LINES = 15_000
MAX_IMEI_CHARS = 15
MAX_SERIAL_CHARS = 50
CARE_DATE_FORMAT = "%Y-%m-%d-%H-%M"

ORDER_ACCEPT = 2
ORDER_SHIP = 3
ORDER_CANCEL = 4


@dataclass(frozen=True)
class SkippedItem:
    """An item of a list page that did not fit its model, left out of the result."""

    object_id: str | None
    error: PayloadError


class BackMarketClient:
    """Calls the Back Market Seller API for one account (one token)."""

    def __init__(
        self,
        token: str,
        *,
        company: str,
        integration: str,
        contact_email: str,
        platform: Platform = Platform.EU,
        preprod: bool = False,
        base_url: str | None = None,
        locale: str | None = None,
        http: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        limits: Limits | None = None,
        pacer: Pacer | None = None,
        get_retries: int = 0,
        retry_backoff_s: float = 1.0,
    ) -> None:
        """Build a client.

        `base_url` overrides the platform's host (e.g. the sandbox). Pass `http` to
        share an `httpx.AsyncClient` (it is then not closed here) or `transport` for
        tests. `pacer` defaults to the process-wide pacer of the token.
        """
        if not token or not token.strip():
            raise ValueError("token must not be empty")
        self._token = token
        self.platform = platform
        self.locale = _check_locale(platform, locale)
        self.base_url = (base_url or HOSTS[(platform, preprod)]).rstrip("/")
        self.user_agent = _user_agent(company, integration, contact_email)
        self.get_retries = max(0, get_retries)
        self.retry_backoff_s = retry_backoff_s
        self._pacer = pacer or pacer_for_token(token, limits)
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(
            transport=transport, timeout=timeout, follow_redirects=False
        )
        self._timeout = timeout

    def __repr__(self) -> str:
        return (
            f"BackMarketClient(base_url={self.base_url!r}, "
            f"platform={self.platform.value!r}, locale={self.locale!r})"
        )

    @property
    def pacer(self) -> Pacer:
        """The pacer this client shares with other clients of its token."""
        return self._pacer

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- listings ---------------------------------------------------------------------

    async def list_listings(
        self,
        *,
        publication_state: int | None = None,
        min_quantity: int | None = None,
        max_quantity: int | None = None,
        skipped: list[SkippedItem] | None = None,
    ) -> list[Listing]:
        """Every listing matching the filters, all pages.

        With `skipped`, a listing that does not fit the model is added there
        instead of failing the call.
        """
        params = _params(
            publication_state=publication_state,
            min_quantity=min_quantity,
            max_quantity=max_quantity,
        )
        return await self._collect(
            "/ws/listings",
            params,
            Listing,
            what="listing",
            id_key="id",
            scopes=(Scope.CATALOG,),
            skipped=skipped,
        )

    async def check_token(self) -> None:
        """One cheap read; UnauthorizedError when Back Market refuses the token."""
        await self._request("GET", "/ws/orders", params={"page": 1, "page-size": 1})

    async def get_listing(self, listing_id: str | int) -> Listing:
        """A listing by UUID (preferred) or legacy integer id."""
        data = await self._request(
            "GET", f"/ws/listings/{listing_id}", scopes=(Scope.CATALOG,)
        )
        return _parse(Listing, data, what="listing", object_id=listing_id)

    async def get_listing_by_sku(self, sku: str) -> Listing:
        """A listing by merchant SKU."""
        data = await self._request(
            "GET", "/ws/listings/detail", params={"sku": sku}, scopes=(Scope.CATALOG,)
        )
        return _parse(Listing, data, what="listing with sku", object_id=sku)

    async def update_listing(
        self, listing_id: str | int, update: ListingUpdate
    ) -> Listing:
        """Change only the fields set in `update`; answers the whole listing."""
        body = update.to_body()
        if not body:
            raise ValueError("the update sets no field")
        data = await self._request(
            "POST",
            f"/ws/listings/{listing_id}",
            json_body=body,
            scopes=(Scope.CATALOG,),
            sku_lines=1,
        )
        logger.info(
            "listing updated",
            extra={"listing_id": str(listing_id), "fields": sorted(body)},
        )
        return _parse(Listing, data, what="listing", object_id=listing_id)

    async def bulk_update_listings(
        self, catalog_csv: str, *, delimiter: str = ";", quotechar: str = '"'
    ) -> str:
        """Upload a catalog CSV (header + one line per SKU); returns the task id.

        The lines count against the hourly SKU-line budget, so the call may wait; a
        CSV with more lines than that budget holds is refused before sending.
        """
        lines = count_csv_lines(catalog_csv, delimiter=delimiter, quotechar=quotechar)
        if lines == 0:
            raise ValueError("the catalog has no SKU line")
        if lines > MAX_BULK_LINES:
            raise ValueError(f"{lines} lines; Back Market takes {MAX_BULK_LINES}")
        body = {
            "catalog": catalog_csv,
            "quotechar": quotechar,
            "delimiter": delimiter,
            "encoding": "utf-8",
        }
        data = await self._request(
            "POST",
            "/ws/listings",
            json_body=body,
            scopes=(Scope.CATALOG,),
            sku_lines=lines,
        )
        task_id = data.get("bodymessage") if isinstance(data, dict) else None
        if task_id is None or isinstance(task_id, dict | list) or task_id == "":
            raise PayloadError(
                "bulk listing update answered without a task id in bodymessage",
                method="POST",
                path="/ws/listings",
            )
        logger.info(
            "bulk listing update queued",
            extra={"task_id": str(task_id), "sku_lines": lines},
        )
        return str(task_id)

    async def get_task(self, task_id: str | int) -> Task:
        data = await self._request("GET", f"/ws/tasks/{task_id}")
        return _parse(Task, data, what="task", object_id=task_id)

    async def wait_for_task(
        self,
        task_id: str | int,
        *,
        poll_interval_s: float = 30.0,
        timeout_s: float = 1800.0,
    ) -> Task:
        """Poll until the task is done or failed; `BackMarketTimeout` past `timeout_s`.

        A failed task is returned, not raised: its `result` says which SKUs failed.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            task = await self.get_task(task_id)
            if task.finished:
                return task
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise BackMarketTimeout(
                    f"task {task_id} still running after {timeout_s:g}s",
                    method="GET",
                    path=f"/ws/tasks/{task_id}",
                )
            await asyncio.sleep(min(poll_interval_s, remaining))

    # --- orders -----------------------------------------------------------------------

    async def list_orders(
        self,
        *,
        state: int | None = None,
        date_creation: datetime | None = None,
        date_modification: datetime | None = None,
        country_code: str | None = None,
        skipped: list[SkippedItem] | None = None,
    ) -> list[Order]:
        """Every order matching the filters, deduplicated by `order_id`.

        Dates are lower bounds; whether Back Market includes the bound is unknown, so
        callers should overlap their windows. An order seen twice while paging (it
        moved between pages) is kept once, in its latest version. With `skipped`, an
        order that does not fit the model is added there instead of failing the call.
        """
        params = _params(
            state=state,
            date_creation=_rfc3339(date_creation),
            date_modification=_rfc3339(date_modification),
            country_code=country_code,
        )
        orders = await self._collect(
            "/ws/orders",
            params,
            Order,
            what="order",
            id_key="order_id",
            skipped=skipped,
        )
        latest: dict[int, Order] = {}
        for order in orders:
            seen = latest.get(order.order_id)
            if seen is None or _modified(order) >= _modified(seen):
                latest[order.order_id] = order
        return list(latest.values())

    async def get_order(self, order_id: int) -> Order:
        data = await self._request("GET", f"/ws/orders/{order_id}")
        return _parse(Order, data, what="order", object_id=order_id)

    async def accept_orderline(self, order_id: int, sku: str) -> None:
        """Accept the line of `order_id` whose SKU (its `listing`) is `sku`."""
        await self._update_order(order_id, ORDER_ACCEPT, sku=sku)

    async def cancel_orderline(self, order_id: int, sku: str) -> None:
        """Refuse the line of `order_id` whose SKU is `sku`."""
        await self._update_order(order_id, ORDER_CANCEL, sku=sku)

    async def ship_order(
        self,
        order_id: int,
        *,
        tracking_number: str,
        tracking_url: str | None = None,
        shipper: str | None = None,
        date_shipping: datetime | None = None,
        imei: str | None = None,
        serial_number: str | None = None,
    ) -> None:
        """Mark every accepted line shipped.

        `imei` or `serial_number` is allowed only for an order of one line of quantity
        one; for other orders use `set_orderline_identifiers`.
        """
        if not tracking_number.strip():
            raise ValueError("tracking_number is required to ship")
        _check_identifiers(imei, serial_number)
        extra = _params(
            tracking_number=tracking_number,
            tracking_url=tracking_url,
            shipper=shipper,
            date_shipping=_rfc3339(date_shipping),
            imei=imei,
            serial_number=serial_number,
        )
        await self._update_order(order_id, ORDER_SHIP, **extra)

    async def set_orderline_identifiers(
        self,
        orderline_id: int,
        *,
        imei: str | None = None,
        serial_number: str | None = None,
    ) -> OrderlineIdentifiers:
        """Set the IMEI or serial number of one line; 422 once already set."""
        if imei is None and serial_number is None:
            raise ValueError("give an imei or a serial_number")
        _check_identifiers(imei, serial_number)
        body = _params(imei=imei, serial_number=serial_number)
        data = await self._request(
            "PATCH", f"/ws/orderlines/{orderline_id}", json_body=body
        )
        logger.info(
            "orderline identifiers set",
            extra={"orderline_id": orderline_id, "fields": sorted(body)},
        )
        return _parse(
            OrderlineIdentifiers, data, what="orderline", object_id=orderline_id
        )

    async def _update_order(self, order_id: int, new_state: int, **fields: Any) -> None:
        body = {"order_id": order_id, "new_state": new_state, **fields}
        await self._request("POST", f"/ws/orders/{order_id}", json_body=body)
        logger.info(
            "order updated",
            extra={
                "order_id": order_id,
                "new_state": new_state,
                "sku": fields.get("sku"),
            },
        )

    # --- customer care ----------------------------------------------------------------

    async def list_care_folders(
        self,
        *,
        state: int | None = None,
        last_id: int | None = None,
        orderline: int | None = None,
        last_modification_date: datetime | None = None,
        skipped: list[SkippedItem] | None = None,
    ) -> list[CareFolderSummary]:
        """Every care folder matching the filters (Back Market pages these by 10).

        With `skipped`, a folder that does not fit the model is added there
        instead of failing the call.
        """
        params = _params(
            state=state,
            last_id=last_id,
            orderline=orderline,
            last_modification_date=_care_date(last_modification_date),
        )
        return await self._collect(
            "/ws/sav",
            params,
            CareFolderSummary,
            what="care folder",
            id_key="id",
            scopes=(Scope.CARE_LIST,),
            page_size=None,
            skipped=skipped,
        )

    async def get_care_folder(self, folder_id: int) -> CareFolder:
        data = await self._request(
            "GET", f"/ws/sav/{folder_id}", scopes=(Scope.CARE_DETAIL,)
        )
        return _parse(CareFolder, data, what="care folder", object_id=folder_id)

    # --- BackBox ----------------------------------------------------------------------

    async def get_competitors(self, listing_uuid: str) -> list[CompetitorEntry]:
        """BackBox standing of a listing, one entry per market; 404 when it has none."""
        data = await self._request(
            "GET",
            f"/ws/backbox/v1/competitors/{listing_uuid}",
            scopes=(Scope.BACKBOX,),
        )
        if not isinstance(data, list):
            raise PayloadError(
                f"backbox of listing {listing_uuid} is not a list",
                method="GET",
                path=f"/ws/backbox/v1/competitors/{listing_uuid}",
            )
        return [
            _parse(
                CompetitorEntry, item, what="backbox of listing", object_id=listing_uuid
            )
            for item in data
        ]

    # --- transport --------------------------------------------------------------------

    async def _collect(
        self,
        path: str,
        params: dict[str, Any],
        model: type[M],
        *,
        what: str,
        id_key: str,
        scopes: Sequence[Scope] = (),
        page_size: int | None = PAGE_SIZE,
        skipped: list[SkippedItem] | None = None,
    ) -> list[M]:
        """Follow `next` to the end; any failing page raises, never a short list.

        An item that does not fit `model` raises too, unless `skipped` is given: it
        is then added there and the rest of its page still counts.
        """
        first = {**params, "page": 1}
        if page_size is not None:
            first["page-size"] = page_size
        url: str | None = path
        query: dict[str, Any] | None = first
        seen: set[str] = set()
        items: list[M] = []
        expected: int | None = None
        pages = 0
        skipped_before = 0 if skipped is None else len(skipped)
        while url is not None:
            data = await self._request("GET", url, params=query, scopes=scopes)
            pages += 1
            if not isinstance(data, dict) or not isinstance(data.get("results"), list):
                raise PayloadError(
                    f"page {pages} of {path} is not a paging envelope",
                    method="GET",
                    path=path,
                )
            if expected is None and isinstance(data.get("count"), int):
                expected = data["count"]
            for raw in data["results"]:
                object_id = raw.get(id_key) if isinstance(raw, dict) else None
                try:
                    items.append(_parse(model, raw, what=what, object_id=object_id))
                except PayloadError as exc:
                    if skipped is None:
                        raise
                    ident = None if object_id is None else str(object_id)
                    skipped.append(SkippedItem(object_id=ident, error=exc))
            url = self._follow(data.get("next"), path)
            query = None
            if url is not None:
                if url in seen:
                    raise PayloadError(
                        f"paging of {path} loops back to page {url}",
                        method="GET",
                        path=path,
                    )
                seen.add(url)
        received = len(items) + (
            0 if skipped is None else len(skipped) - skipped_before
        )
        if expected is not None and expected != received:
            # Lists move while we page (new orders arrive), so this is only worth
            # a note; callers overlap windows and deduplicate anyway.
            logger.info(
                "paged count differs from announced count",
                extra={"path": path, "count": expected, "received": received},
            )
        return items

    def _follow(self, next_url: object, path: str) -> str | None:
        """The next page on our own host, whatever host Back Market wrote in `next`.

        The token must only ever go to the configured host; keeping its path and
        query also copes with a `next` that says http behind a TLS proxy.
        """
        if next_url is None or next_url == "":
            return None
        if not isinstance(next_url, str):
            raise PayloadError(f"next of {path} is not a URL", method="GET", path=path)
        parts = urlsplit(next_url)
        base = urlsplit(self.base_url)
        if not parts.path.startswith("/"):
            raise PayloadError(f"next of {path} has no path", method="GET", path=path)
        return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))

    async def _request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        scopes: Iterable[Scope] = (),
        sku_lines: int = 0,
    ) -> Any:
        url = (
            path_or_url
            if path_or_url.startswith(("http://", "https://"))
            else self.base_url + path_or_url
        )
        path = urlsplit(url).path
        attempts = 1 + (self.get_retries if method == "GET" else 0)
        scopes = tuple(scopes)
        for attempt in range(1, attempts + 1):
            try:
                async with self._pacer.slot(*scopes, sku_lines=sku_lines):
                    return await self._send(method, url, path, params, json_body)
            except BackMarketError as exc:
                if isinstance(exc, RateLimitedError):
                    self._pacer.block()
                if not exc.retryable or attempt == attempts:
                    raise
                delay = self.retry_backoff_s * 2 ** (attempt - 1)
                logger.warning(
                    "retrying read",
                    extra={"path": path, "attempt": attempt, "error": exc.kind},
                )
                await asyncio.sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _send(
        self,
        method: str,
        url: str,
        path: str,
        params: Mapping[str, Any] | None,
        json_body: Any,
    ) -> Any:
        is_write = method not in ("GET", "HEAD")
        try:
            response = await self._http.request(
                method,
                url,
                params=params,
                content=None if json_body is None else json.dumps(json_body),
                headers=self._headers(),
                timeout=self._timeout,
            )
        except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise BackMarketTimeout(
                f"no connection in time ({type(exc).__name__})",
                method=method,
                path=path,
            ) from None
        except httpx.TimeoutException as exc:
            raise BackMarketTimeout(
                f"no answer in time ({type(exc).__name__})",
                method=method,
                path=path,
                may_have_applied=is_write,
            ) from None
        except httpx.ConnectError as exc:
            raise BackMarketConnectionError(
                f"could not connect ({type(exc).__name__})", method=method, path=path
            ) from None
        except httpx.TransportError as exc:
            raise BackMarketConnectionError(
                f"connection broke ({type(exc).__name__})",
                method=method,
                path=path,
                may_have_applied=is_write,
            ) from None
        # `from None` above: httpx's exceptions hold the request, headers included,
        # and a chained cause travels into Temporal failures.

        logger.debug(
            "back market answered",
            extra={"method": method, "path": path, "status": response.status_code},
        )
        if not response.is_success:
            raise error_from_response(
                response, method=method, path=path, secret=self._token
            )
        if not response.content.strip():
            return None
        try:
            data = response.json()
        except ValueError:
            raise PayloadError(
                "answer is not JSON",
                status=response.status_code,
                method=method,
                path=path,
            ) from None
        status = data.get("statuscode") if isinstance(data, dict) else None
        if isinstance(status, int) and status >= 400:
            # Some listing answers carry their real outcome in the body.
            ray = response.headers.get("cf-ray")
            raise error_from_response(
                httpx.Response(
                    status, json=data, headers={"cf-ray": ray} if ray else None
                ),
                method=method,
                path=path,
                secret=self._token,
            )
        return data

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Basic {self._token}",
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Accept-Language": self.locale,
            "User-Agent": self.user_agent,
        }


# --- helpers --------------------------------------------------------------------------


def build_catalog_csv(
    rows: Iterable[Mapping[str, object]],
    *,
    columns: Sequence[str] | None = None,
    delimiter: str = ";",
    quotechar: str = '"',
) -> str:
    """A catalog CSV for `bulk_update_listings`; `sku` must be among the columns."""
    rows = list(rows)
    header = list(columns) if columns is not None else _columns(rows)
    if "sku" not in header:
        raise ValueError("a catalog needs a sku column")
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer,
        fieldnames=header,
        delimiter=delimiter,
        quotechar=quotechar,
        lineterminator="\n",
        extrasaction="raise",
    )
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_value(v) for k, v in row.items()})
    return buffer.getvalue()


def count_csv_lines(
    catalog_csv: str, *, delimiter: str = ";", quotechar: str = '"'
) -> int:
    """SKU lines in a catalog CSV: its non-empty rows after the header."""
    reader = csv.reader(
        io.StringIO(catalog_csv), delimiter=delimiter, quotechar=quotechar
    )
    rows = [row for row in reader if any(cell.strip() for cell in row)]
    return max(0, len(rows) - 1)


def _columns(rows: Sequence[Mapping[str, object]]) -> list[str]:
    header: list[str] = []
    for row in rows:
        header.extend(k for k in row if k not in header)
    return header


def _csv_value(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, float):
        raise TypeError("pass amounts as Decimal or str, not float")
    return value


def _parse(model: type[M], data: Any, *, what: str, object_id: object) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise payload_error(exc, what=what, object_id=object_id) from None


def _params(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _rfc3339(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _care_date(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(CARE_DATE_FORMAT)


def _modified(order: Order) -> datetime:
    return order.date_modification or datetime.min.replace(tzinfo=UTC)


def _check_identifiers(imei: str | None, serial_number: str | None) -> None:
    if imei is not None and len(imei) > MAX_IMEI_CHARS:
        raise ValueError(f"imei longer than {MAX_IMEI_CHARS} characters")
    if serial_number is not None and len(serial_number) > MAX_SERIAL_CHARS:
        raise ValueError(f"serial_number longer than {MAX_SERIAL_CHARS} characters")


def _check_locale(platform: Platform, locale: str | None) -> str:
    allowed = LOCALES[platform]
    chosen = (locale or allowed[0]).lower()
    if chosen not in allowed:
        raise ValueError(
            f"locale {chosen!r} is not one of {platform.value}: {', '.join(allowed)}"
        )
    return chosen


def _user_agent(company: str, integration: str, contact_email: str) -> str:
    parts = {"company": company, "integration": integration}
    for name, value in parts.items():
        if not value or any(c in value for c in ";\r\n"):
            raise ValueError(f"{name} must be non-empty, without ';' or line breaks")
    if "@" not in contact_email or any(c in contact_email for c in ";\r\n "):
        raise ValueError("contact_email must be an email address")
    return f"BM-{company}-{integration};{contact_email}"
