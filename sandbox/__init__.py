"""A stand-in for Back Market's seller API, served over real HTTP, for offline work.

Entry points: `sandbox.app.create_app(SandboxConfig)` (state at `app.state.sandbox`),
`sandbox.server.SandboxServer` (async context manager with `.base_url` and `.state`),
`sandbox.server.run` and the `bmsync sandbox` command.

The /ws/ endpoints follow the contract in the shared API summary. Where it is unsure or
silent, the sandbox chooses, and says so here:
- the order date filters `date_creation` and `date_modification` are exclusive lower
  bounds (strictly after); `last_modification_date` of /ws/sav is inclusive;
- a customer's order lowers the listing's quantity and no cancellation gives it back;
- a customer's cancellation moves a line 1 -> 4 before acceptance, 2 -> 5 after;
- an order whose lines are all cancelled or refunded moves to state 9, as a shipped one
  does; the lines tell them apart;
- every /ws/listings path counts against the catalog limit (20 per 10 s); single and
  bulk listing updates also spend SKU lines (one per update, one per CSV line);
- a refused state change on /ws/orders answers 400 with no body, including repeating
  one that already happened (accepting an accepted line, shipping a shipped order);
- asking past the last page answers 404; `page-size` above 50 is cut to 50;
- `Accept-Language` is not read: every listing has one price in its platform's
  currency (EUR, USD or JPY).

The admin API under /_sandbox/ (header `X-Sandbox-Admin` when `admin_token` is set) is
the sandbox's own; its routes are documented at /_sandbox/docs.
"""
