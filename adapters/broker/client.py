"""Construct the ccxt client for the broker account (production exchange or a local URL).

Nothing here knows about a simulator: a `rest_url` / `ws_url` override is simply "the exchange
lives at this address" (a proxy, a regional endpoint, or the local stack's exchange).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from adapters.broker import throttle

# Binance keeps one host per API family; these are the families a USD-M client may call.
_REST_PATHS = {
    "fapiPublic": "/fapi/v1",
    "fapiPublicV2": "/fapi/v2",
    "fapiPublicV3": "/fapi/v3",
    "fapiPrivate": "/fapi/v1",
    "fapiPrivateV2": "/fapi/v2",
    "fapiPrivateV3": "/fapi/v3",
    "fapiData": "/futures/data",
    "public": "/api/v3",
    "private": "/api/v3",
    "v1": "/api/v1",
    "sapi": "/sapi/v1",
    "sapiV2": "/sapi/v2",
    "sapiV3": "/sapi/v3",
    "sapiV4": "/sapi/v4",
    "dapiPublic": "/dapi/v1",
    "dapiPrivate": "/dapi/v1",
    "dapiPrivateV2": "/dapi/v2",
    "dapiData": "/futures/data",
    "eapiPublic": "/eapi/v1",
    "eapiPrivate": "/eapi/v1",
    "papi": "/papi/v1",
    "papiV2": "/papi/v2",
}


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    exchange_id: str = "binanceusdm"
    api_key: str = ""
    api_secret: str = field(default="", repr=False)
    rest_url: str | None = None  # e.g. "http://127.0.0.1:8547"; None = the exchange's own URLs
    ws_url: str | None = None  # e.g. "ws://127.0.0.1:8547" ("/ws" is appended when missing)
    sandbox: bool = False  # ccxt sandbox (testnet) URLs; Binance futures moved to `demo`
    demo: bool = False  # Binance demo trading (demo-fapi.binance.com)
    recv_window: int = 5000
    timeout_ms: int = 10_000
    rate_limit_ms: int | None = None  # None = ccxt's own per-exchange limit
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Any) -> BrokerConfig:
        """From `config.settings.Settings` (broker_* fields)."""
        return cls(
            exchange_id=settings.broker_exchange_id,
            api_key=settings.broker_api_key.get_secret_value(),
            api_secret=settings.broker_api_secret.get_secret_value(),
            # empty = the exchange's own URLs (the settings' defaults point at the simulator)
            rest_url=settings.broker_rest_url or None,
            ws_url=settings.broker_ws_url or None,
            rate_limit_ms=settings.broker_rate_limit_ms,
        )

    @classmethod
    def from_env(cls, prefix: str = "HEDGER_BROKER_") -> BrokerConfig:
        env = os.environ
        return cls(
            exchange_id=env.get(prefix + "EXCHANGE", "binanceusdm"),
            api_key=env.get(prefix + "API_KEY", ""),
            api_secret=env.get(prefix + "API_SECRET", ""),
            rest_url=env.get(prefix + "REST_URL") or None,
            ws_url=env.get(prefix + "WS_URL") or None,
            sandbox=env.get(prefix + "SANDBOX", "").lower() in ("1", "true", "yes"),
            demo=env.get(prefix + "DEMO", "").lower() in ("1", "true", "yes"),
            recv_window=int(env.get(prefix + "RECV_WINDOW", "5000")),
            timeout_ms=int(env.get(prefix + "TIMEOUT_MS", "10000")),
            rate_limit_ms=int(env[prefix + "RATE_LIMIT_MS"])
            if env.get(prefix + "RATE_LIMIT_MS")
            else None,
        )


def _rewrite_urls(exchange: Any, rest_url: str | None, ws_url: str | None) -> None:
    api = exchange.urls["api"]
    if rest_url is not None:
        base = rest_url.rstrip("/")
        for name, value in list(api.items()):
            if isinstance(value, str):
                api[name] = base + _REST_PATHS.get(name, "/" + value.split("/", 3)[-1])
    if ws_url is not None and isinstance(api.get("ws"), dict):
        # Binance serves streams under <host>/ws (ccxt derives /private/ws, /public/ws from it).
        base_ws = ws_url.rstrip("/")
        if not base_ws.endswith("/ws"):
            base_ws += "/ws"
        ws = api["ws"]
        for name, value in list(ws.items()):
            if isinstance(value, str):
                ws[name] = base_ws
            elif isinstance(value, dict):
                for sub in value:
                    value[sub] = base_ws
    # ccxt picks the per-market-type error table by the production host name; a URL of our own
    # would fall through to the generic table (-2019 would be a bare ExchangeError).
    linear = exchange.exceptions.get("linear", {})
    for kind in ("exact", "broad"):
        merged = dict(exchange.exceptions.get(kind, {}))
        merged.update(linear.get(kind, {}))
        exchange.exceptions[kind] = merged


def make_exchange(config: BrokerConfig) -> Any:
    """The ccxt.pro (async, REST + websocket) client for `config`; the caller closes it.

    ccxt is loaded here, not at module level: `BrokerConfig` is read by processes that never
    construct a ccxt client (the workflow worker's market-data reader); and only this one
    exchange of ccxt's is loaded (`ccxt_lean`)."""
    from adapters.broker.ccxt_lean import exchange_class

    klass = exchange_class(config.exchange_id)
    options: dict[str, Any] = {
        "defaultType": "swap",
        "recvWindow": config.recv_window,
        "adjustForTimeDifference": False,
        # We accept the heavier rate-limit weight of an all-symbols open-orders read (reconciliation).
        "warnOnFetchOpenOrdersWithoutSymbol": False,
    }
    options.update(config.options)
    params: dict[str, Any] = {
        "apiKey": config.api_key,
        "secret": config.api_secret,
        "enableRateLimit": True,
        "timeout": config.timeout_ms,
        "options": options,
    }
    if config.rate_limit_ms is not None:
        params["rateLimit"] = config.rate_limit_ms
    exchange = klass(params)
    throttle.install(exchange)  # ccxt's own throttler makes every request after a pause wait
    if config.sandbox:
        exchange.set_sandbox_mode(True)
    if config.demo:
        exchange.enable_demo_trading(True)
    if config.rest_url is not None or config.ws_url is not None:
        _rewrite_urls(exchange, config.rest_url, config.ws_url)
        exchange.options["fetchCurrencies"] = False
    return exchange
