"""The chain activities' contract (task queue `hedger-chain`): inputs, outputs and typed stubs.

`ChainApi` declares every chain activity with its Temporal name and types; the implementation
(`activities.chain.ChainActivities`) subclasses it, so the type checker holds both sides to one
signature, and workflows call `ChainApi.<method>` by reference (`workflows.calls`). Amounts
travel as 18-decimal strings. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from temporalio import activity

from domain.enums import OrderType, PositionType, QuoteStatus
from domain.muon import SchnorrSign, SingleUpnlSig
from domain.quote import LockedValues, Quote


@dataclass(frozen=True)
class QuoteRef:
    quote_id: int


@dataclass(frozen=True)
class PartyARef:
    party_a: str


@dataclass(frozen=True)
class OpenFactsRef:
    """`chain_open_facts`' input: the quote, and what its SendQuote event said of it (`party_a`
    empty and `symbol_id` 0: not known), so the reads that depend on those start together with
    the quote's. The quote read decides: a hint it contradicts is read again. A `QuoteRef`
    payload decodes as one without hints."""

    quote_id: int
    party_a: str = ""
    symbol_id: int = 0


@dataclass(frozen=True)
class QuoteView:
    """A SYMMIO quote as read from the chain; amounts are 18-decimal strings."""

    quote_id: int
    party_a: str
    party_b: str | None
    symbol_id: int
    position_type: int
    order_type: int
    status: int
    quantity: str
    requested_open_price: str
    market_price: str
    opened_price: str
    closed_amount: str
    quantity_to_close: str
    requested_close_price: str
    avg_closed_price: str
    cva: str
    lf: str
    party_amm: str
    party_bmm: str
    trading_fee: str
    deadline: int
    parent_id: int
    party_bs_whitelist: list[str]
    close_id: int = 0
    status_modify_timestamp: int = 0


@dataclass(frozen=True)
class ChainTime:
    block_number: int
    timestamp: int


@dataclass(frozen=True)
class UpnlSigWire:
    """A Muon `SingleUpnlSig` (PartyB's uPnL towards one PartyA, `lockQuote`'s signature) as it
    travels through a workflow: bytes as 0x-hex, integers as decimal strings."""

    req_id: str
    timestamp: int
    upnl: str
    gateway_signature: str
    signature: str
    owner: str
    nonce: str

    @classmethod
    def of(cls, sig: SingleUpnlSig) -> UpnlSigWire:
        return cls(
            "0x" + sig.req_id.hex(), sig.timestamp, str(sig.upnl),
            "0x" + sig.gateway_signature.hex(), str(sig.sigs.signature), sig.sigs.owner,
            sig.sigs.nonce,
        )  # fmt: skip

    def to_sig(self) -> SingleUpnlSig:
        return SingleUpnlSig(
            bytes.fromhex(self.req_id.removeprefix("0x")), self.timestamp, int(self.upnl),
            bytes.fromhex(self.gateway_signature.removeprefix("0x")),
            SchnorrSign(int(self.signature), self.owner, self.nonce),
        )  # fmt: skip


@dataclass(frozen=True)
class LockRequest:
    quote_id: int
    allocate_first: str = "0"  # allocateForPartyB up to this much first if the allocation is short
    party_a: str = (
        ""  # the quote's PartyA when the caller knows it (saves a read before the pair lock)
    )
    # PartyB's uPnL signature for that PartyA that the decision's funds counted
    # (`OpenFacts.lock_sig`): the lock's first attempt sends it while it is fresh instead of
    # asking Muon again; a stale one (a nonce moved, expired) is replaced before sending
    sig: UpnlSigWire | None = None


@dataclass(frozen=True)
class OpenRequest:
    quote_id: int
    filled_amount: str
    opened_price: str


@dataclass(frozen=True)
class CloseFillRequest:
    quote_id: int
    filled_amount: str
    closed_price: str
    close_id: int = 0  # informational (the close request being filled); 0 = unknown
    # The quote's closedAmount (18-decimal string) when the workflow decided to report this
    # fill: if the chain shows another value the fill (or another close) already landed, so the
    # activity sends nothing and answers `already_done` (None: no such check).
    closed_amount_before: str | None = None


@dataclass(frozen=True)
class AllocateRequest:
    party_a: str
    amount: str


@dataclass(frozen=True)
class RebalanceRequest:
    """Keep PartyB's headroom towards one PartyA inside the bands (`domain.balance`): the
    activity reads the facts, decides and sends `allocateForPartyB` / `deallocateForPartyB`."""

    party_a: str
    low: str
    target: str
    high: str
    margin: str = "0"
    key: str = ""  # idempotency key (one per balance run): a retry never sends a second action
    dry_run: bool = False  # decide and report only


@dataclass(frozen=True)
class RebalanceResult:
    party_a: str
    action: str  # allocate | deallocate | none
    amount: str  # "" when an earlier attempt sent it (amount in its journal row / the chain)
    headroom: str  # partyBAvailableForQuote(upnl) before the action
    reason: str
    short: str = "0"  # still below the low band after the action (free balance short)
    tx_hash: str | None = None
    already_done: bool = False
    dry_run: bool = False


@dataclass(frozen=True)
class PartyBHealth:
    """PartyB's distance to liquidation towards one PartyA (SYMMIO.md §2.5):
    `buffer` = `partyBAvailableBalanceForLiquidation` = allocated - (locked cva + lf) + upnl;
    below zero PartyB is liquidatable for that PartyA."""

    party_a: str
    allocated: str
    locked_cva_lf: str
    upnl: str  # PartyB's uPnL towards the PartyA, as the oracle signs it
    buffer: str


@dataclass(frozen=True)
class ChargeFundingRequest:
    """`chargeFundingRate` of one PartyA's quotes for the epoch boundary `boundary` (each quote's
    signed rate, a decimal string: positive, longs pay)."""

    party_a: str
    boundary: int
    quote_ids: list[int]
    rates: list[str]


@dataclass(frozen=True)
class ChargeFundingResult:
    tx_hash: str | None
    charged: list[int]  # the quotes this transaction charged (or an earlier one did: already)
    skipped: list[int]  # already paid for `boundary` on chain, or no longer open
    already_done: bool = False


@dataclass(frozen=True)
class TxResult:
    action: str
    quote_id: int
    tx_hash: str | None  # None when the chain already showed the action done
    already_done: bool = False
    # the quote and the chain time read right after (lock and open): the caller's next facts
    quote: QuoteView | None = None
    chain_time: int = 0


@dataclass(frozen=True)
class SymbolInfo:
    symbol_id: int
    name: str
    is_valid: bool
    max_leverage: str
    min_acceptable_quote_value: str
    min_acceptable_portion_lf: str
    trading_fee: str


@dataclass(frozen=True)
class PartyBFunds:
    """What PartyB can commit to a PartyA: available for quotes, plus deposited and unallocated."""

    party_b: str
    available_for_quote: str
    allocatable: str


@dataclass(frozen=True)
class ProtocolStateView:
    """The diamond's pause switches (`pauseState()`) and our PartyB's emergency status."""

    global_paused: bool
    party_b_actions_paused: bool
    emergency_mode: bool
    party_b_emergency: bool
    liquidation_paused: bool = False
    block_number: int = 0


@dataclass(frozen=True)
class QuoteNow:
    """A quote and the chain time, read in one activity (`chain_quote_now`)."""

    quote: QuoteView
    time: ChainTime
    # `chain_position_facts` only: the protocol pauses PartyB actions (`pauseState()`: global
    # or PartyB actions), read with the quote; None from `chain_quote_now`
    party_b_paused: bool | None = None


@dataclass(frozen=True)
class OpenFacts:
    """Every chain fact the open decision needs, read in one activity (`chain_open_facts`):
    our PartyB, the quote, the chain time, the quote's symbol and PartyB's funds for its PartyA.
    `symbol` is None (and `symbol_error` says why) when the quote's symbol does not exist."""

    party_b: str
    quote: QuoteView
    time: ChainTime
    symbol: SymbolInfo | None
    funds: PartyBFunds
    symbol_error: str | None = None
    # the uPnL signature `funds` counted (None when Muon did not answer): what the lock sends
    lock_sig: UpnlSigWire | None = None


class ChainApi:
    """Every chain activity: SYMMIO views and PartyB transactions (one worker per signer key)."""

    @activity.defn(name="chain_read_quote")
    async def read_quote(self, ref: QuoteRef) -> QuoteView:
        raise NotImplementedError

    @activity.defn(name="chain_time")
    async def chain_time(self) -> ChainTime:
        raise NotImplementedError

    @activity.defn(name="chain_party_b_address")
    async def party_b_address(self) -> str:
        raise NotImplementedError

    @activity.defn(name="chain_symbol_info")
    async def symbol_info(self, ref: QuoteRef) -> SymbolInfo:
        """`ref.quote_id` carries the symbol id."""
        raise NotImplementedError

    @activity.defn(name="chain_party_b_funds")
    async def party_b_funds(self, ref: PartyARef) -> PartyBFunds:
        raise NotImplementedError

    @activity.defn(name="chain_party_b_available")
    async def party_b_available(self, ref: PartyARef) -> str:
        raise NotImplementedError

    @activity.defn(name="chain_protocol_state")
    async def protocol_state(self) -> ProtocolStateView:
        raise NotImplementedError

    @activity.defn(name="chain_quote_now")
    async def quote_now(self, ref: QuoteRef) -> QuoteNow:
        """`read_quote` + `chain_time` in one round trip."""
        raise NotImplementedError

    @activity.defn(name="chain_position_facts")
    async def position_facts(self, ref: QuoteRef) -> QuoteNow:
        """`quote_now` and whether the protocol pauses PartyB actions, in one round trip (all
        the trading state the close path obeys)."""
        raise NotImplementedError

    @activity.defn(name="chain_open_facts")
    async def open_facts(self, ref: OpenFactsRef) -> OpenFacts:
        """`read_quote` + `chain_time` + `party_b_address` + `symbol_info` + `party_b_funds` of
        the quote's PartyA, in one round trip (the open path's first step)."""
        raise NotImplementedError

    @activity.defn(name="chain_lock_quote")
    async def lock_quote(self, req: LockRequest) -> TxResult:
        raise NotImplementedError

    @activity.defn(name="chain_unlock_quote")
    async def unlock_quote(self, ref: QuoteRef) -> TxResult:
        raise NotImplementedError

    @activity.defn(name="chain_accept_cancel_request")
    async def accept_cancel_request(self, ref: QuoteRef) -> TxResult:
        raise NotImplementedError

    @activity.defn(name="chain_open_position")
    async def open_position(self, req: OpenRequest) -> TxResult:
        raise NotImplementedError

    @activity.defn(name="chain_fill_close_request")
    async def fill_close_request(self, req: CloseFillRequest) -> TxResult:
        raise NotImplementedError

    @activity.defn(name="chain_accept_cancel_close_request")
    async def accept_cancel_close_request(self, ref: QuoteRef) -> TxResult:
        raise NotImplementedError

    @activity.defn(name="chain_emergency_close_position")
    async def emergency_close_position(self, ref: QuoteRef) -> TxResult:
        raise NotImplementedError

    @activity.defn(name="chain_allocate_for_party_b")
    async def allocate_for_party_b(self, req: AllocateRequest) -> TxResult:
        raise NotImplementedError

    @activity.defn(name="chain_rebalance_party_b")
    async def rebalance_party_b(self, req: RebalanceRequest) -> RebalanceResult:
        """Allocate up to / deallocate down to the target when PartyB's headroom towards the
        PartyA is outside the bands; idempotent per `key`."""
        raise NotImplementedError

    @activity.defn(name="chain_charge_funding_rate")
    async def charge_funding_rate(self, req: ChargeFundingRequest) -> ChargeFundingResult:
        raise NotImplementedError

    @activity.defn(name="chain_party_b_health")
    async def party_b_health(self, party_a: str) -> PartyBHealth:
        """PartyB's liquidation buffer towards `party_a` (chain views + the oracle's uPnL)."""
        raise NotImplementedError


# ------------------------------------------------------------------ conversions (pure)


def quote_view(quote: Quote) -> QuoteView:
    lv = quote.locked_values
    return QuoteView(
        quote_id=quote.id, party_a=quote.party_a, party_b=quote.party_b, symbol_id=quote.symbol_id,
        position_type=int(quote.position_type), order_type=int(quote.order_type),
        status=int(quote.status), quantity=str(quote.quantity),
        requested_open_price=str(quote.requested_open_price), market_price=str(quote.market_price),
        opened_price=str(quote.opened_price), closed_amount=str(quote.closed_amount),
        quantity_to_close=str(quote.quantity_to_close),
        requested_close_price=str(quote.requested_close_price),
        avg_closed_price=str(quote.avg_closed_price), cva=str(lv.cva), lf=str(lv.lf),
        party_amm=str(lv.party_a_mm), party_bmm=str(lv.party_b_mm),
        trading_fee=str(quote.trading_fee), deadline=quote.deadline, parent_id=quote.parent_id,
        party_bs_whitelist=list(quote.party_bs_whitelist),
        status_modify_timestamp=quote.status_modify_timestamp,
    )  # fmt: skip


def to_quote(view: QuoteView) -> Quote:
    d = Decimal
    return Quote(
        id=view.quote_id,
        party_a=view.party_a,
        symbol_id=view.symbol_id,
        position_type=PositionType(view.position_type),
        order_type=OrderType(view.order_type),
        requested_open_price=d(view.requested_open_price),
        market_price=d(view.market_price),
        quantity=d(view.quantity),
        locked_values=LockedValues(d(view.cva), d(view.lf), d(view.party_amm), d(view.party_bmm)),
        deadline=view.deadline,
        status=QuoteStatus(view.status),
        party_b=view.party_b,
        party_bs_whitelist=tuple(view.party_bs_whitelist),
        trading_fee=d(view.trading_fee),
        opened_price=d(view.opened_price),
        closed_amount=d(view.closed_amount),
        avg_closed_price=d(view.avg_closed_price),
        requested_close_price=d(view.requested_close_price),
        quantity_to_close=d(view.quantity_to_close),
        parent_id=view.parent_id,
        status_modify_timestamp=view.status_modify_timestamp,
    )


def quote_summary(quote: Quote) -> dict[str, Any]:
    """What the workflows' `state` query shows of the chain quote."""
    return {
        "quote_id": quote.id,
        "party_a": quote.party_a,
        "party_b": quote.party_b,
        "symbol_id": quote.symbol_id,
        "side": quote.position_type.name,
        "order_type": quote.order_type.name,
        "status": quote.status.name,
        "quantity": str(quote.quantity),
        "requested_open_price": str(quote.requested_open_price),
        "opened_price": str(quote.opened_price),
        "closed_amount": str(quote.closed_amount),
        "quantity_to_close": str(quote.quantity_to_close),
        "deadline": quote.deadline,
    }
