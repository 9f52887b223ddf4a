"""The funding workflow's contract (task queue `hedger-ops`): what its read activities return,
the workflow's input and result. Amounts and rates travel as strings. Nothing here does I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

from temporalio import activity

from interfaces.temporal import TaskQueues

FUNDING_WORKFLOW = "FundingWorkflow"
FUNDING_SCHEDULE_ID = "hedger-funding"
# what one chargeFundingRate carries at most (one PartyA's quotes)
FUNDING_BATCH_SIZE = 50
# PartyAs per funding snapshot: one snapshot of every open quote (about 150 bytes each) would
# pass Temporal's 2 MB payload limit at about 14,000 positions, and funding would stop.
FUNDING_PARTY_A_PAGE = 50
# Quotes per funding snapshot at most: one PartyA's own open quotes pass that limit too.
FUNDING_QUOTE_PAGE = 2000
# the broker's funding interval when it does not say (Binance: 8 h, except the symbols its
# `fundingInfo` lists)
DEFAULT_BROKER_FUNDING_INTERVAL = 8 * 3600


def funding_workflow_id(chain_id: int) -> str:
    return f"funding-{chain_id}"


@dataclass(frozen=True)
class FundingInput:
    chain_id: int
    spread: str = "0"  # added to what longs pay and taken from what shorts receive
    chain_queue: str = TaskQueues.CHAIN
    ops_queue: str = TaskQueues.OPS


@dataclass(frozen=True)
class FundingSymbol:
    symbol_id: int
    name: str
    epoch_duration: int  # fundingRateEpochDuration
    window: int  # fundingRateWindowTime


@dataclass(frozen=True)
class FundingQuote:
    """One open quote of our PartyB, as the chain shows it."""

    quote_id: int
    party_a: str
    symbol_id: int
    position_type: int  # PositionType
    max_funding_rate: str
    last_paid: int  # lastFundingPaymentTimestamp


@dataclass(frozen=True)
class FundingSnapshotRequest:
    party_b: str
    # only these PartyAs' quotes (None: every PartyA the ledger knows, in one snapshot)
    party_as: list[str] | None = None
    # only their quotes with a larger id, the `max_quotes` lowest of them (None: all)
    after_quote_id: int = 0
    max_quotes: int | None = None


@dataclass(frozen=True)
class FundingSnapshot:
    symbols: list[FundingSymbol] = field(default_factory=list)
    quotes: list[FundingQuote] = field(default_factory=list)  # by quote id
    more: bool = False  # `max_quotes` cut them short: ask again after the last one


@dataclass(frozen=True)
class BrokerRatesRequest:
    symbols: list[str]  # SYMMIO symbol names


@dataclass(frozen=True)
class FundingCharge:
    """What one run charged one PartyA (a chargeFundingRate), or why it did not."""

    party_a: str
    quote_ids: list[int]
    rates: list[str]
    tx_hash: str | None
    already_done: bool = False
    error: str | None = None


@dataclass(frozen=True)
class FundingResult:
    run_id: str
    chain_time: int
    broker_rates: dict[str, str] = field(default_factory=dict)
    charges: list[FundingCharge] = field(default_factory=list)


class FundingApi:
    @activity.defn(name="funding_snapshot")
    async def snapshot(self, request: FundingSnapshotRequest) -> FundingSnapshot:
        """The symbols with a funding epoch and our PartyB's open quotes (chain views)."""
        raise NotImplementedError

    @activity.defn(name="funding_party_as")
    async def party_as(self) -> list[str]:
        """The PartyAs whose quotes funding looks at (sorted, lower case)."""
        raise NotImplementedError

    @activity.defn(name="funding_broker_rates")
    async def broker_rates(self, request: BrokerRatesRequest) -> dict[str, str]:
        """The broker's current funding rate per SYMMIO symbol name (ccxt `fetchFundingRates`);
        a symbol the broker does not list is left out."""
        raise NotImplementedError

    @activity.defn(name="funding_broker_intervals")
    async def broker_intervals(self, request: BrokerRatesRequest) -> dict[str, int]:
        """Seconds between the broker's funding times per SYMMIO symbol name (ccxt
        `fetchFundingIntervals`; `DEFAULT_BROKER_FUNDING_INTERVAL` for a symbol it does not
        list, or when the broker has no such call); a symbol the broker does not list is left
        out."""
        raise NotImplementedError
