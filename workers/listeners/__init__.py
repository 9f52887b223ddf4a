"""Chain listeners (DESIGN §2 "Blockchain Input Module"): raw SYMMIO logs → workflows.

* `delivery` — decode, filter what is not ours (`ownership`), route, signal-with-start /
  signal, record in `chain_events` (removals included), metrics.
* `poller` — HTTP `eth_getLogs` over several health-scored RPC URLs, confirmed blocks, cursor.
* `ws` — websocket `eth_subscribe` over several URLs, reconnect with backoff, catch-up.
* `subgraph` — SYMMIO's events subgraph by `counterId`, entities re-encoded into logs.
* `reorg` — reorg detection by block hash and replay of the changed range (poller, ws).
* `rpc` — JSON-RPC over HTTP with health scoring (`adapters.chain.health`).

Run any number of each side by side: every delivery is idempotent.
"""
