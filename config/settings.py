"""Settings: every URL, key and limit comes from the environment (or a `.env` file).

Defaults point at the embedded local stack, so `make demo` needs no configuration; production
sets the same variables (see `infra/README.md`). Variables are prefixed `HEDGER_`; lists are
comma-separated. `load_settings()` validates everything up front and turns any problem into a
`ConfigError` whose message names the offending variable and never echoes a secret.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "HEDGER_"
_HEX_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")

# anvil's deterministic dev account 2: PartyB in the local stack. A public test key, never real money.
DEVNET_HEDGER_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
DEVNET_ADMIN_TOKEN = "devnet-admin-token"  # noqa: S105 - local-only default, rejected in production


class ConfigError(ValueError):
    """A configuration problem, phrased for the operator who has to fix it."""


def _split_list(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


CsvList = Annotated[list[str], NoDecode]


class LeverageTier(BaseModel):
    """One `/get_locked_params` tier: the percentages offered up to `max_leverage` (see
    `ledger.market_tables.SymbolLockedParams`); cva + lf + party_amm is normally 100."""

    max_leverage: Decimal = Field(gt=0)
    cva: Decimal = Field(ge=0, le=100)
    lf: Decimal = Field(ge=0, le=100)
    party_amm: Decimal = Field(ge=0, le=100)
    party_bmm: Decimal = Field(Decimal(0), ge=0, le=100)


def _default_tiers() -> list[LeverageTier]:
    return [
        LeverageTier(
            max_leverage=Decimal(1000),
            cva=Decimal(6),
            lf=Decimal(3),
            party_amm=Decimal(91),
            party_bmm=Decimal(0),
        )
    ]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=(".env", ".hedger/devnet.env"),
        env_file_encoding="utf-8",
        extra="ignore",
        hide_input_in_errors=True,
    )

    environment: str = Field("local", description="local | staging | production")
    log_level: str = "INFO"

    # Temporal
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_tls: bool = False
    temporal_api_key: SecretStr | None = None
    temporal_ui_url: str = "http://127.0.0.1:8233"

    # Postgres (the hedger's own ledger)
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/hedger"

    # Chain
    chain_id: int = Field(31337, gt=0)
    rpc_http_urls: CsvList = Field(default_factory=lambda: ["http://127.0.0.1:8545"])
    rpc_ws_url: str = "ws://127.0.0.1:8545"
    # several websocket endpoints for the websocket listener (default: [rpc_ws_url])
    rpc_ws_urls: CsvList = Field(default_factory=list)
    # an endpoint whose head is further behind the best one is asked only when nothing else answers
    rpc_max_lag_blocks: int = Field(5, ge=0)
    symmio_address: str | None = None
    private_key: SecretStr = SecretStr(DEVNET_HEDGER_KEY)
    confirmations: int = Field(1, ge=0)
    # a fixed gas limit for every transaction of ours: each is pre-flighted with one eth_call at
    # that limit instead of eth_estimateGas (unset: estimate, and send 130 % of the estimate)
    chain_gas_limit: int | None = Field(None, ge=21_000, le=30_000_000)
    # the listeners: their own confirmation depth (the poller's default: `confirmations`) and
    # how many recent blocks they remember to detect a reorg by block hash
    poll_confirmations: int | None = Field(None, ge=0)
    ws_confirmations: int = Field(0, ge=0)
    subgraph_confirmations: int = Field(1, ge=0)
    reorg_window_blocks: int = Field(64, ge=1, le=10_000)
    # SYMMIO events subgraph endpoint(s) of the third listener (comma-separated for several)
    subgraph_url: str | None = None
    subgraph_poll_seconds: float = Field(2.0, gt=0)
    # The chain worker's local transaction journal (one SQLite file per signer): a durable local
    # disk of the chain worker, never shared by two workers. Default: <state_dir>/chain-journal.
    chain_journal_dir: str | None = None
    # local state (the embedded stack; the chain journal's default parent)
    state_dir: str = ".hedger"

    # Muon oracle gateways, tried in order
    muon_urls: CsvList = Field(default_factory=lambda: ["http://127.0.0.1:8546/v1/"])
    muon_app: str = "symmio"

    # Broker (ccxt)
    broker_exchange_id: str = "binanceusdm"
    broker_api_key: SecretStr = SecretStr("devnet-api-key")
    broker_api_secret: SecretStr = SecretStr("devnet-api-secret")
    broker_rest_url: str | None = Field(
        "http://127.0.0.1:8547",
        description="override of the exchange's REST base (None = the real exchange)",
    )
    broker_ws_url: str | None = "ws://127.0.0.1:8547"
    # ccxt's client-side throttle, milliseconds per unit of request weight (an order costs 4);
    # unset: ccxt's own (50 ms for Binance USD-M: one order per 200 ms per client)
    broker_rate_limit_ms: int | None = Field(None, ge=1, le=60_000)
    # Temporal's rate limit on the broker task queue: activities dispatched per second across
    # every broker worker (one API key's budget); ccxt's throttle above still spaces each
    # client's requests by weight
    broker_activities_per_second: float = Field(40.0, gt=0, le=1_000)

    # API server
    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, gt=0, lt=65536)
    admin_token: SecretStr = SecretStr(DEVNET_ADMIN_TOKEN)
    metrics_port: int = Field(9100, ge=0, lt=65536)
    # Bind address of the worker/listener metrics servers; 0.0.0.0 in a container, so that
    # Prometheus (another container or pod) can scrape them.
    metrics_host: str = "127.0.0.1"
    alert_webhook_url: str | None = None

    # --- API input limits (issue #10), checked before any work is done on a request ----------
    # A request body above this many bytes is refused with 413, by its Content-Length or while
    # it streams in (the API holds at most this much of a body in memory).
    api_max_body_bytes: int = Field(256 * 1024, ge=1024, le=64 * 1024 * 1024)
    # JSON bodies and websocket messages nested deeper than this are refused before parsing.
    api_max_json_depth: int = Field(32, ge=2, le=256)
    # Items of any JSON list in a body or message, and parameters of one query string.
    api_max_list_items: int = Field(1000, ge=1, le=32_767)
    # Characters of any string in a body or message, and of one path or query value.
    api_max_string_chars: int = Field(4096, ge=64, le=1_000_000)
    # Characters of an operator's `reason` (it is recorded in a workflow's history).
    api_max_reason_chars: int = Field(2000, ge=1, le=100_000)
    # Bytes of one websocket message from a client (larger: the socket is closed with 1009).
    api_ws_max_message_bytes: int = Field(64 * 1024, ge=1024, le=16 * 1024 * 1024)
    # Per-client limits (issue #12). A client is the TCP peer's IP (an IPv6 address's /64);
    # X-Forwarded-For is believed only from a peer in `api_trusted_proxies` (IPs or CIDRs,
    # comma-separated; empty: the header is ignored). HTTP requests and websocket handshakes
    # spend one token of the client's bucket: `api_request_burst` at once, then
    # `api_requests_per_second` (0: no limit); over it a 429 with Retry-After.
    api_requests_per_second: float = Field(50.0, ge=0, le=1_000_000)
    api_request_burst: int = Field(500, ge=1, le=1_000_000)
    # Open websockets per client and in total; one more is closed at once with 1013.
    api_max_ws_per_client: int = Field(64, ge=1, le=100_000)
    api_max_ws_total: int = Field(2048, ge=1, le=1_000_000)
    api_trusted_proxies: CsvList = Field(default_factory=list)
    # The SYMMIO MultiAccount contracts whose sub-accounts /get_balance_info serves (empty: none),
    # and how many sub-accounts of one wallet it reads at most.
    multi_accounts: CsvList = Field(default_factory=list)
    multi_account_max_sub_accounts: int = Field(100, ge=1, le=10_000)
    # Seconds the API waits for Postgres: to connect, for a pooled connection, for one statement.
    # A stalled database then gets a 503 in bounded time instead of hanging every request.
    api_db_timeout_seconds: float = Field(5.0, gt=0, le=600)
    # --- end of API input limits ----------------------------------------------------------------

    # Risk limits (hedger policy)
    max_open_interest: Decimal = Field(Decimal("1000000"), ge=0)
    max_notional_per_symbol: Decimal = Field(Decimal("250000"), ge=0)
    price_band_pct: Decimal = Field(Decimal("2"), gt=0, le=100)
    min_seconds_to_deadline: int = Field(30, ge=0)

    # Markets the API publishes (the symbol-sync and market-data schedules on `hedger-ops`).
    # JSON values: per SYMMIO symbol name, the broker market hedging it when the names differ
    # ({"1000PEPEUSDT": "1000PEPE/USDT:USDT"}) and a notional cap below max_notional_per_symbol
    # ({"ETHUSDT": "100000"}); the leverage tiers of /get_locked_params (clamped to each
    # symbol's on-chain max leverage).
    symbol_broker_markets: dict[str, str] = Field(default_factory=dict)
    symbol_notional_caps: dict[str, Annotated[Decimal, Field(ge=0)]] = Field(default_factory=dict)
    leverage_tiers: list[LeverageTier] = Field(default_factory=_default_tiers, min_length=1)
    hedger_fee_open: Decimal = Field(Decimal(0), ge=0, lt=1)
    hedger_fee_close: Decimal = Field(Decimal(0), ge=0, lt=1)
    symbol_sync_seconds: int = Field(60, ge=5, le=86_400)
    market_data_seconds: int = Field(5, ge=1, le=3_600)
    # Before a close fill PartyB's allocation for the PartyA cannot pay (PartyA in profit beyond
    # it), allocate the shortfall plus this margin first (false: never top up; the fill reverts).
    close_top_up: bool = True
    close_top_up_margin: Decimal = Field(Decimal("1"), ge=0)
    # when the free balance cannot pay that top-up: settleUpnl PartyA's losing quotes with us first
    close_settle_upnl: bool = True
    # Intent and position workflows continue-as-new beyond this many history events (set by the
    # listeners when they start a workflow; unset: the workflows' default of 8,000).
    workflow_history_limit: int | None = Field(None, ge=50, le=50_000)
    # Run workflow code inside Temporal's Python sandbox (re-imports the workflow modules for
    # every run and proxies their globals: about 4x the workflow worker's CPU per intent, see
    # bench/). Off by default: the replay tests and the worker-validation test run every
    # workflow type, and every recorded history, inside the sandbox, so a non-deterministic
    # construct still fails `make test`. Turn it on to have production check at run time too.
    workflow_sandbox: bool = False
    # Workflows the workflow worker keeps in memory between their tasks (least recently used
    # evicted first; an evicted one is rebuilt from its history at its next task). Open
    # positions wake rarely (their idle recheck backs off to 10 min), so memory is bounded by
    # this, not by how many positions are open: about 0.2 MB each (bench/, open positions; at
    # 128 the worker levels off at 167-170 MB with 500 positions open).
    workflow_cache_size: int = Field(128, ge=2, le=100_000)
    # Seconds a worker process waits, after SIGTERM/SIGINT, for its Temporal worker to stop
    # before it exits anyway. Temporal's core keeps retrying a failing local activity during a
    # shutdown (temporalio/sdk-rust#709), so without a bound a worker whose chain RPC is gone
    # never exits. Whatever it abandons is durable: its workflow tasks time out and run on
    # another worker, its activities are retried. Keep it below the orchestrator's grace (60 s).
    worker_shutdown_seconds: float = Field(30.0, gt=0, le=3_600)

    # Position validator (a Temporal Schedule the ops worker creates or updates at start): every
    # this many seconds; 0 = the schedule is paused.
    validator_interval_seconds: int = Field(60, ge=0, le=86_400)
    # Finding classes the validator repairs by itself once a finding is confirmed (off by
    # default). Only `orphan_broker_order` has a repair: cancel the resting order of a quote no
    # workflow is working (it can only reduce exposure); each repair is recorded and alerted.
    validator_auto_repair: CsvList = Field(default_factory=list)
    # Balance manager (Schedule `hedger-balance`): every this many seconds (0 = paused); alerts
    # while the broker account's free collateral is below `balance_min_free_collateral` (0 = off).
    balance_interval_seconds: int = Field(60, ge=0, le=86_400)
    balance_min_free_collateral: Decimal = Field(Decimal("1000"), ge=0)
    # Allocation bands per PartyA on PartyB's headroom (partyBAvailableForQuote): below `low`
    # allocate up to `target`, above `high` deallocate down to it (after the deallocate cooldown,
    # keeping `margin` above locked + pending + losses). target 0 = off; high 0 = never
    # deallocate. `balance_dry_run`: only report what it would do. A lock that must allocate
    # first tops the headroom up to `target` too (not just to twice what it locks), so the
    # PartyA's next locks send no allocation before them.
    balance_allocation_low: Decimal = Field(Decimal(0), ge=0)
    balance_allocation_target: Decimal = Field(Decimal(0), ge=0)
    balance_allocation_high: Decimal = Field(Decimal(0), ge=0)
    balance_allocation_margin: Decimal = Field(Decimal("10"), ge=0)
    balance_dry_run: bool = False
    # PartyB health: each balance run alerts (`partyb_health_low`, critical) while PartyB's
    # liquidation buffer towards a PartyA (allocated - locked cva - lf + uPnL) is below this many
    # USD, and resolves when it is back; 0 = off.
    balance_health_min_buffer: Decimal = Field(Decimal(0), ge=0)
    # Funding (Schedule `hedger-funding`): every this many seconds (0 = paused), charge each open
    # quote whose symbol's funding window is open the broker's rate (`chargeFundingRate`), plus
    # `funding_spread` on both sides; keep the interval well below the window time.
    funding_interval_seconds: int = Field(60, ge=0, le=86_400)
    funding_spread: Decimal = Field(Decimal(0), ge=0)

    _split = field_validator(
        "rpc_http_urls",
        "rpc_ws_urls",
        "muon_urls",
        "validator_auto_repair",
        "api_trusted_proxies",
        "multi_accounts",
        mode="before",
    )(_split_list)

    @field_validator("api_trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        import ipaddress

        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"not an IP address or CIDR network: {entry!r}") from None
        return value

    @field_validator("private_key")
    @classmethod
    def _check_private_key(cls, value: SecretStr) -> SecretStr:
        if not _HEX_KEY.match(value.get_secret_value()):
            raise ValueError("must be a 32-byte hex private key (64 hex digits, optional 0x)")
        return value

    @field_validator("multi_accounts")
    @classmethod
    def _check_multi_accounts(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not _ADDRESS.match(v)]
        if bad:
            raise ValueError(f"not 0x-prefixed 20-byte hex addresses: {bad[:3]}")
        return value

    @field_validator("symmio_address")
    @classmethod
    def _check_address(cls, value: str | None) -> str | None:
        if value is not None and not _ADDRESS.match(value):
            raise ValueError("must be a 0x-prefixed 20-byte hex address")
        return value

    @field_validator("rpc_http_urls", "muon_urls")
    @classmethod
    def _non_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("needs at least one URL")
        return value

    @field_validator("environment")
    @classmethod
    def _known_environment(cls, value: str) -> str:
        if value not in {"local", "staging", "production"}:
            raise ValueError("must be one of local, staging, production")
        return value

    def check_production_safety(self) -> None:
        """Refuse devnet secrets outside the local environment."""
        if self.environment == "local":
            return
        problems = []
        if self.private_key.get_secret_value() == DEVNET_HEDGER_KEY:
            problems.append(f"{ENV_PREFIX}PRIVATE_KEY: is the public devnet key")
        if self.admin_token.get_secret_value() == DEVNET_ADMIN_TOKEN:
            problems.append(f"{ENV_PREFIX}ADMIN_TOKEN: is the devnet default")
        if self.symmio_address is None:
            problems.append(f"{ENV_PREFIX}SYMMIO_ADDRESS: is required")
        if problems:
            raise ConfigError("invalid configuration: " + "; ".join(problems))

    def require_symmio_address(self) -> str:
        if self.symmio_address is None:
            raise ConfigError(
                f"{ENV_PREFIX}SYMMIO_ADDRESS: is not set (locally, `hedger devnet deploy` writes it to .hedger/devnet.env)"
            )
        return self.symmio_address

    def websocket_urls(self) -> list[str]:
        """The websocket listener's endpoints, in order of preference."""
        return list(self.rpc_ws_urls) or [self.rpc_ws_url]

    def subgraph_urls(self) -> list[str]:
        return [u.strip() for u in (self.subgraph_url or "").split(",") if u.strip()]

    def poll_confirmation_depth(self) -> int:
        return self.confirmations if self.poll_confirmations is None else self.poll_confirmations

    def chain_journal_directory(self) -> Path:
        """Where the chain worker keeps its local transaction journals (one file per signer)."""
        if self.chain_journal_dir:
            return Path(self.chain_journal_dir).expanduser()
        return Path(self.state_dir).expanduser() / "chain-journal"

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict, secrets masked: safe to print or log."""
        out: dict[str, Any] = {}
        for name, value in self.model_dump().items():
            out[name] = "********" if isinstance(value, SecretStr) else value
        return out


def _format(error: ValidationError) -> str:
    lines = []
    for item in error.errors(include_input=False, include_url=False):
        field = ".".join(str(part) for part in item["loc"]) or "?"
        lines.append(f"{ENV_PREFIX}{field.upper()}: {item['msg']}")
    return "invalid configuration: " + "; ".join(lines)


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the configuration; raises `ConfigError` naming each bad variable."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_format(exc)) from None
    settings.check_production_safety()
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def env_file_paths() -> list[str]:
    return [path for path in (".env", ".hedger/devnet.env") if os.path.exists(path)]
