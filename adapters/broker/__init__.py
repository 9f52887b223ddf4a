"""The broker side: one ccxt client per account, an idempotent adapter, error classification,
SYMMIO symbol mapping, and Binance USD-M market data without ccxt. Production code points
`BrokerConfig` at a real exchange; the local stack points it (by URL only) at its exchange.

Import the submodules directly (`adapters.broker.adapter`, `.client`, `.errors`, `.symbols`,
`.usdm`, `.market_data`); only `adapter` imports ccxt at import time (`client.make_exchange`
and `market_data.market_data_for` for a non-Binance exchange import it when called), so
workflow code and the workflow worker may use the others.
"""
