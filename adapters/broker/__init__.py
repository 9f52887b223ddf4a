"""The broker side: one ccxt client per account, an idempotent adapter, error classification,
SYMMIO symbol mapping, and Binance USD-M market data without ccxt. Production code points
`BrokerConfig` at a real exchange; the local stack points it (by URL only) at its exchange.

Import the submodules directly (`adapters.broker.adapter`, `.client`, `.errors`, `.symbols`,
`.usdm`, `.market_data`); none imports ccxt at import time (`client.make_exchange`, the error
classification and `market_data.market_data_for` for a non-Binance exchange load it when
called), so workflow code and the workflow worker may use them. ccxt is loaded through
`ccxt_lean`: only the configured exchange, not the hundred-odd others ccxt ships.
"""
