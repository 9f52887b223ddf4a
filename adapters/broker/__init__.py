"""The broker side: one ccxt client per account, an idempotent adapter, error classification,
SYMMIO symbol mapping. Production code points `BrokerConfig` at a real exchange; the local
stack points it (by URL only) at its exchange.

Import the submodules directly (`adapters.broker.adapter`, `.client`, `.errors`, `.symbols`,
`.types`); `types` and `errors` do not import ccxt, so workflow code may use them.
"""
