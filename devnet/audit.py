"""Honest counters for a hedger run, counted from outside the hedger.

Nothing here reads the hedger's ledger or asks its workflows how they are doing. The sources
are the three things a hedger cannot talk its way around:

- the **chain**: every quote of the run (ids from `getNextQuoteId`, read with `getQuote`), and
  every transaction our PartyB signer got mined in the run's blocks (successful or reverted),
  decoded from its calldata (selector + quoteId);
- the **exchange simulator's own records**: every order it accepted and every trade, per client
  order id (`/admin/orders`, `/admin/trades`), and its positions;
- **Temporal's visibility**: which intent / position workflows are still running.

The counters (each a number; any non-zero one is a violation):

- `over_hedged` / `under_hedged`: quotes whose broker quantity — the signed sum of the trades
  under that quote's client ids (`h<q>o<n>`, `h<q>c<closeId>n<n>`) — is more / less than what
  is open on chain for the quote (quantity − closedAmount while OPENED / CLOSE_PENDING /
  CANCEL_CLOSE_PENDING, else 0);
- `unhedged_symbols`: symbols whose chain net exposure (sum over the run's open quotes, signed)
  differs from the simulator's position;
- `duplicate_txs`: a second lockQuote / openPosition / unlockQuote / acceptCancelRequest /
  lockAndOpenQuote for one quote (mined or reverted), and every fillCloseRequest /
  acceptCancelCloseRequest that reverted (more than the close request needed);
- `duplicate_orders`: every extra order placed under one client order id, and every quote whose
  broker traded more than the quote needed (hedge direction beyond its quantity, close
  direction beyond what was opened);
- `stuck`: quotes of ours not terminal on chain, or whose broker side does not match, plus every
  intent / position workflow still running, whatever it says about itself.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

import httpx

WAD = Decimal(10**18)
ZERO = Decimal(0)
ZERO_ADDRESS = "0x" + "0" * 40

# QuoteStatus (SYMMIO 0.8.4)
STATUS_NAMES = (
    "PENDING", "LOCKED", "CANCEL_PENDING", "CANCELED", "OPENED", "CLOSE_PENDING",
    "CANCEL_CLOSE_PENDING", "CLOSED", "LIQUIDATED", "EXPIRED", "LIQUIDATED_PENDING",
)  # fmt: skip
TERMINAL = {"CANCELED", "CLOSED", "EXPIRED", "LIQUIDATED"}
OPEN_ON_CHAIN = {"OPENED", "CLOSE_PENDING", "CANCEL_CLOSE_PENDING"}
WAS_OPENED = OPEN_ON_CHAIN | {"CLOSED", "LIQUIDATED"}
SINGLE_SHOT = (
    "lockQuote",
    "openPosition",
    "unlockQuote",
    "acceptCancelRequest",
    "lockAndOpenQuote",
)
ONCE_PER_REQUEST = ("fillCloseRequest", "acceptCancelCloseRequest")
HEDGER_CLIENT_ID = re.compile(r"^h(?P<quote>\d+)(?P<leg>o\d+|c\d+n\d+)$")


def quote_of(client_order_id: str | None) -> tuple[int, str] | None:
    """(quote id, "open" | "close") for a hedger client order id; None for anything else."""
    m = HEDGER_CLIENT_ID.match(client_order_id or "")
    if not m:
        return None
    return int(m["quote"]), "open" if m["leg"].startswith("o") else "close"


# ------------------------------------------------------------------------------ the chain
@dataclass(frozen=True)
class ChainQuote:
    id: int
    party_a: str
    party_b: str
    whitelist: tuple[str, ...]
    symbol_id: int
    long: bool  # trader LONG: PartyB hedges by buying
    market: bool
    quantity: Decimal  # base units
    closed_amount: Decimal
    quantity_to_close: Decimal
    status: str
    parent_id: int
    deadline: int

    @property
    def open_quantity(self) -> Decimal:
        return self.quantity - self.closed_amount if self.status in OPEN_ON_CHAIN else ZERO

    @property
    def sign(self) -> int:
        return 1 if self.long else -1


@dataclass(frozen=True)
class ChainTx:
    hash: str
    block: int
    nonce: int
    action: str  # function name (or the selector when unknown)
    quote_id: int | None
    amount: Decimal | None  # filledAmount of openPosition / fillCloseRequest / lockAndOpen
    success: bool


class ChainReader:
    """Reads the diamond with plain JSON-RPC (batched), decoding with our contract's ABI."""

    def __init__(self, rpc_url: str, symmio: str, timeout: float = 30.0) -> None:
        from web3 import Web3

        from devnet.contracts.deploy import diamond_abi

        self.rpc_url = rpc_url
        self.symmio = Web3.to_checksum_address(symmio)
        self.w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
        self.abi = diamond_abi()
        self.contract = self.w3.eth.contract(address=self.symmio, abi=self.abi)
        self.selectors = self._selectors()
        self._http = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def _selectors(self) -> dict[str, str]:
        from eth_utils.abi import function_abi_to_4byte_selector

        out = {}
        for entry in self.abi:
            if entry.get("type") == "function":
                selector = bytes(function_abi_to_4byte_selector(entry))  # type: ignore[arg-type]
                out["0x" + selector.hex()] = str(entry["name"])
        return out

    def batch(self, calls: list[tuple[str, list[Any]]], size: int = 200) -> list[Any]:
        results: list[Any] = []
        for start in range(0, len(calls), size):
            chunk = calls[start : start + size]
            body = [
                {"jsonrpc": "2.0", "id": i, "method": method, "params": params}
                for i, (method, params) in enumerate(chunk)
            ]
            reply = self._http.post(self.rpc_url, json=body).json()
            if isinstance(reply, dict):  # an error for the whole batch
                raise RuntimeError(f"batch of {len(chunk)}: {reply.get('error', reply)}")
            by_id = {r["id"]: r for r in reply}
            for i in range(len(chunk)):
                r = by_id[i]
                if "error" in r:
                    raise RuntimeError(f"{chunk[i][0]}: {r['error']}")
                results.append(r["result"])
        return results

    def block_number(self) -> int:
        return int(self.w3.eth.block_number)

    def last_quote_id(self) -> int:
        return int(self.contract.functions.getNextQuoteId().call())  # the last id, not the next

    def symbol_name(self, symbol_id: int) -> str:
        return str(self.contract.functions.getSymbol(symbol_id).call()[1])

    def quote(self, quote_id: int) -> ChainQuote:
        q = self.contract.functions.getQuote(quote_id).call()
        return ChainQuote(
            id=int(q[0]),
            party_a=str(q[14]).lower(),
            party_b=str(q[15]).lower(),
            whitelist=tuple(str(a).lower() for a in q[1]),
            symbol_id=int(q[2]),
            long=int(q[3]) == 0,
            market=int(q[4]) == 1,
            quantity=Decimal(int(q[9])) / WAD,
            closed_amount=Decimal(int(q[10])) / WAD,
            quantity_to_close=Decimal(int(q[19])) / WAD,
            status=STATUS_NAMES[int(q[16])],
            parent_id=int(q[20]),
            deadline=int(q[24]),
        )

    def quotes(self, first_id: int = 1) -> list[ChainQuote]:
        return [self.quote(i) for i in range(first_id, self.last_quote_id() + 1)]

    def transactions_from(self, sender: str, from_block: int, to_block: int) -> list[ChainTx]:
        """Every transaction `sender` got mined to the diamond in [from_block, to_block]."""
        sender, target = sender.lower(), self.symmio.lower()
        blocks = self.batch(
            [("eth_getBlockByNumber", [hex(n), True]) for n in range(from_block, to_block + 1)]
        )
        ours = [
            tx
            for block in blocks
            if block
            for tx in block["transactions"]
            if str(tx.get("from", "")).lower() == sender
            and str(tx.get("to") or "").lower() == target
        ]
        receipts = self.batch([("eth_getTransactionReceipt", [tx["hash"]]) for tx in ours])
        out = []
        for tx, receipt in zip(ours, receipts, strict=True):
            data = str(tx.get("input") or tx.get("data") or "0x")
            selector = data[:10]
            action = self.selectors.get(selector, selector)
            words = [data[10 + 64 * i : 10 + 64 * (i + 1)] for i in range(2)]
            first = int(words[0], 16) if len(words[0]) == 64 else None
            quote_id = first if action != "allocateForPartyB" else None
            amount = (
                Decimal(int(words[1], 16)) / WAD
                if action in ("openPosition", "fillCloseRequest", "lockAndOpenQuote")
                and len(words[1]) == 64
                else None
            )
            out.append(
                ChainTx(
                    hash=str(tx["hash"]),
                    block=int(tx["blockNumber"], 16),
                    nonce=int(tx["nonce"], 16),
                    action=action,
                    quote_id=quote_id,
                    amount=amount,
                    success=int(receipt["status"], 16) == 1,
                )
            )
        return out


# ------------------------------------------------------------------------------ the counting
@dataclass
class QuoteBook:
    """What the broker did under one quote's client ids (from the simulator's trades)."""

    bought_open: Decimal = ZERO
    sold_open: Decimal = ZERO
    bought_close: Decimal = ZERO
    sold_close: Decimal = ZERO
    client_ids: set[str] = field(default_factory=set)
    fills: list[str] = field(default_factory=list)  # "h7o1 SELL 0.022 @ 50067.9", in order

    @property
    def net(self) -> Decimal:
        return self.bought_open + self.bought_close - self.sold_open - self.sold_close


@dataclass
class AuditReport:
    counters: dict[str, int]
    details: dict[str, Any]
    outcomes: dict[str, int]

    @property
    def violations(self) -> int:
        return sum(self.counters.values())

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ours(quote: ChainQuote, party_b: str) -> bool:
    """A quote our PartyB holds, or one it could take (open to anyone or whitelisting us)."""
    pb = party_b.lower()
    if quote.party_b == pb:
        return True
    return quote.party_b == ZERO_ADDRESS and (not quote.whitelist or pb in quote.whitelist)


def compute(
    *,
    quotes: list[ChainQuote],
    txs: list[ChainTx],
    trades: list[dict[str, Any]],
    orders: list[dict[str, Any]],
    positions: dict[str, Decimal],
    symbol_names: dict[int, str],
    running_workflows: list[str],
    party_b: str,
    chain_id: int = 31337,
    first_quote_id: int = 1,
    open_positions_ok: bool = False,
) -> AuditReport:
    """The counters from raw observations (pure: the tests feed it real violations).

    Broker records under quote ids below `first_quote_id` belong to an earlier run and are
    left out; any other hedger-style client id counts, also one no quote of ours explains.
    A run that wound down (every intent closed) ends with no OPENED quote; `open_positions_ok`
    accepts OPENED ones (hedged, no workflow running) for a run that ends mid-trade."""
    mine = {q.id: q for q in quotes if ours(q, party_b)}
    books: dict[int, QuoteBook] = defaultdict(QuoteBook)
    for t in trades:
        parsed = quote_of(t.get("clientOrderId"))
        if parsed is None or parsed[0] < first_quote_id:
            continue
        quote_id, leg = parsed
        book = books[quote_id]
        book.client_ids.add(str(t["clientOrderId"]))
        qty = Decimal(str(t["qty"]))
        buy = t["side"] == "BUY"
        book.fills.append(f"{t['clientOrderId']} {t['side']} {t['qty']} @ {t['price']}")
        if leg == "open":
            book.bought_open += qty if buy else ZERO
            book.sold_open += ZERO if buy else qty
        else:
            book.bought_close += qty if buy else ZERO
            book.sold_close += ZERO if buy else qty

    def show(value: Decimal) -> str:
        return format(value.normalize(), "f") if value else "0"

    # over / under hedging, per quote
    over: list[dict[str, Any]] = []
    under: list[dict[str, Any]] = []
    mismatched: dict[int, str] = {}
    others = _ids(quotes) - set(mine)  # another PartyB's quotes: their ids are not ours to judge
    for quote_id in sorted(set(mine) | (set(books) - others)):
        q = mine.get(quote_id)
        book = books.get(quote_id, QuoteBook())
        chain_open = q.open_quantity if q is not None else ZERO
        sign = q.sign if q is not None else 1
        hedged = sign * book.net
        diff = hedged - chain_open
        if diff == 0:
            continue
        row = {
            "quote": quote_id,
            "status": q.status if q is not None else "not ours / unknown",
            "chain_open": show(chain_open),
            "broker_net": show(book.net),
            "diff": show(diff),
            "fills": book.fills,
        }
        (over if diff > 0 else under).append(row)
        mismatched[quote_id] = (
            f"broker {'over' if diff > 0 else 'under'}-hedged by {show(abs(diff))}"
        )

    # net exposure per symbol (the run's quotes on chain vs the simulator's position)
    chain_net: dict[str, Decimal] = defaultdict(Decimal)
    for q in mine.values():
        if q.open_quantity:
            chain_net[symbol_names.get(q.symbol_id, str(q.symbol_id))] += q.sign * q.open_quantity
    exposure = {}
    unhedged = 0
    for symbol in sorted(set(chain_net) | set(positions)):
        c, b = chain_net.get(symbol, ZERO), positions.get(symbol, ZERO)
        exposure[symbol] = {"chain": show(c), "broker": show(b)}
        if c != b:
            unhedged += 1
            exposure[symbol]["mismatch"] = show(b - c)

    # duplicate transactions, from the chain
    by_key: dict[tuple[int, str], list[ChainTx]] = defaultdict(list)
    for tx in txs:
        if tx.quote_id is not None:
            by_key[(tx.quote_id, tx.action)].append(tx)
    dup_txs: list[dict[str, Any]] = []
    duplicate_txs = 0
    for (quote_id, action), group in sorted(by_key.items()):
        extra = 0
        if action in SINGLE_SHOT:
            extra = len(group) - 1
        elif action in ONCE_PER_REQUEST:
            extra = sum(1 for tx in group if not tx.success)
        if extra > 0:
            duplicate_txs += extra
            dup_txs.append(
                {
                    "quote": quote_id,
                    "action": action,
                    "extra": extra,
                    "txs": [
                        {"hash": t.hash, "block": t.block, "nonce": t.nonce, "ok": t.success}
                        for t in group
                    ],
                }
            )
    reverted = Counter(tx.action for tx in txs if not tx.success)

    # duplicate orders, from the simulator's records
    per_cid = Counter(str(o.get("clientOrderId")) for o in orders)
    dup_orders: list[dict[str, Any]] = []
    duplicate_orders = 0
    for cid, n in sorted(per_cid.items()):
        parsed = quote_of(cid)
        if n > 1 and parsed is not None and parsed[0] >= first_quote_id:
            duplicate_orders += n - 1
            dup_orders.append({"client_order_id": cid, "orders": n})
    for quote_id, book in sorted(books.items()):
        q = mine.get(quote_id)
        if q is None:
            continue
        hedge_dir_open = book.bought_open if q.long else book.sold_open
        close_dir_close = book.sold_close if q.long else book.bought_close
        opened = q.quantity if q.status in WAS_OPENED else ZERO
        excess_open = max(ZERO, hedge_dir_open - q.quantity)
        excess_close = max(ZERO, close_dir_close - opened)
        if excess_open or excess_close:
            duplicate_orders += 1
            dup_orders.append(
                {
                    "quote": quote_id,
                    "excess_open": show(excess_open),
                    "excess_close": show(excess_close),
                    "status": q.status,
                    "quantity": show(q.quantity),
                    "fills": book.fills,
                }
            )

    # stuck: not terminal on chain, broker side off, or a workflow still running
    reasons: dict[int, list[str]] = defaultdict(list)
    pending_unlocked = []
    final = TERMINAL | ({"OPENED"} if open_positions_ok else set())
    for q in mine.values():
        if q.status in final:
            continue
        if q.status == "PENDING" and q.party_b == ZERO_ADDRESS:
            pending_unlocked.append(q.id)  # nobody holds it: not ours to finish
            continue
        reasons[q.id].append(f"chain status {q.status}")
    for quote_id, why in mismatched.items():
        reasons[quote_id].append(why)
    prefixes = (f"intent-{chain_id}-", f"position-{chain_id}-")
    run_ids = set(mine) | set(books)
    other_running = []
    for wf in running_workflows:
        if wf.startswith(prefixes) and wf.rsplit("-", 1)[-1].isdigit():
            quote_id = int(wf.rsplit("-", 1)[-1])
            if quote_id in run_ids:
                reasons[quote_id].append(f"workflow {wf} still running")
                continue
        other_running.append(wf)
    stuck = [
        {"quote": qid, "status": mine[qid].status if qid in mine else "?", "reasons": why}
        for qid, why in sorted(reasons.items())
    ]

    outcomes = Counter(q.status for q in mine.values())
    return AuditReport(
        counters={
            "over_hedged": len(over),
            "under_hedged": len(under),
            "unhedged_symbols": unhedged,
            "duplicate_txs": duplicate_txs,
            "duplicate_orders": duplicate_orders,
            "stuck": len(stuck),
        },
        details={
            "over_hedged": over,
            "under_hedged": under,
            "net_exposure": exposure,
            "duplicate_txs": dup_txs,
            "duplicate_orders": dup_orders,
            "stuck": stuck,
            "pending_unlocked": sorted(pending_unlocked),
            "reverted_txs": dict(reverted),
            "txs_by_action": dict(Counter(tx.action for tx in txs)),
            "other_running_workflows": other_running,
            "quotes": len(mine),
        },
        outcomes=dict(outcomes),
    )


def _ids(quotes: list[ChainQuote]) -> set[int]:
    return {q.id for q in quotes}


# ------------------------------------------------------------------------------ collecting
@dataclass
class RunScope:
    """Which part of a (possibly long-lived) devnet belongs to this run."""

    rpc_url: str
    symmio: str
    party_b: str
    exchange_url: str
    temporal_address: str | None
    first_quote_id: int = 1  # quotes with ids >= this
    from_block: int = 0  # transactions in blocks >= this
    chain_id: int = 31337
    namespace: str = "default"
    open_positions_ok: bool = False  # OPENED quotes are not stuck (a run that did not wind down)


async def running_workflows(address: str, namespace: str = "default") -> list[str]:
    """Ids of every workflow Temporal says is running (visibility; no query to the workflow)."""
    from temporalio.client import Client

    client = await Client.connect(address, namespace=namespace)
    return [wf.id async for wf in client.list_workflows('ExecutionStatus="Running"')]


async def exchange_records(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        trades = (await http.get("/admin/trades")).raise_for_status().json()
        orders = (await http.get("/admin/orders")).raise_for_status().json()
        state = (await http.get("/admin/state")).raise_for_status().json()
    positions = {s: Decimal(p["amount"]) for s, p in state.get("positions", {}).items()}
    return {"trades": trades, "orders": orders, "positions": positions}


async def audit_run(scope: RunScope) -> AuditReport:
    """Collect from the chain, the simulator and Temporal, then count."""
    reader = ChainReader(scope.rpc_url, scope.symmio)
    try:
        quotes = await asyncio.to_thread(reader.quotes, scope.first_quote_id)
        latest = await asyncio.to_thread(reader.block_number)
        txs = await asyncio.to_thread(
            reader.transactions_from, scope.party_b, scope.from_block, latest
        )
        symbol_ids = {q.symbol_id for q in quotes}
        names = {sid: await asyncio.to_thread(reader.symbol_name, sid) for sid in symbol_ids}
    finally:
        reader.close()
    records = await exchange_records(scope.exchange_url)
    running = (
        await running_workflows(scope.temporal_address, scope.namespace)
        if scope.temporal_address
        else []
    )
    return compute(
        quotes=quotes,
        txs=txs,
        trades=records["trades"],
        orders=records["orders"],
        positions=records["positions"],
        symbol_names=names,
        running_workflows=running,
        party_b=scope.party_b,
        chain_id=scope.chain_id,
        first_quote_id=scope.first_quote_id,
        open_positions_ok=scope.open_positions_ok,
    )
