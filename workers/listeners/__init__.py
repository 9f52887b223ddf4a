"""Chain listeners (DESIGN §2 "Blockchain Input Module"): raw SYMMIO logs → workflows.

* `delivery` — decode, route, signal-with-start / signal, record in `chain_events`, metrics.
* `poller` — HTTP `eth_getLogs` over several RPC URLs, confirmed blocks, Postgres cursor.
* `ws` — websocket `eth_subscribe` with reconnect, backoff and an eth_getLogs catch-up.
* `cli` — `poll_command` / `ws_command` (mounted as `hedger listener poll|ws`).

Run any number of each side by side: every delivery is idempotent.
"""
