"""The balance manager's contract (task queue `hedger-ops`): what its activity reads, the
workflow's input and result. Amounts travel as strings. Nothing here does I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

from temporalio import activity

from interfaces.chain import RebalanceResult

BALANCE_WORKFLOW = "BalanceWorkflow"
BALANCE_SCHEDULE_ID = "hedger-balance"


def balance_workflow_id(chain_id: int) -> str:
    return f"balance-{chain_id}"


@dataclass(frozen=True)
class BalanceInput:
    chain_id: int
    min_free_collateral: str  # the band's floor for the broker's free collateral ("0": off)
    asset: str = "USDT"
    # PartyB's headroom (partyBAvailableForQuote) per PartyA: below `low` allocate up to
    # `target`, above `high` deallocate down to it keeping `margin` (target "0": off)
    allocation_low: str = "0"
    allocation_target: str = "0"
    allocation_high: str = "0"
    allocation_margin: str = "0"
    dry_run: bool = False  # decide and report the allocations, send nothing
    # alert while PartyB's liquidation buffer towards a PartyA is below this ("0": off)
    health_min_buffer: str = "0"


@dataclass(frozen=True)
class BalanceRequest:
    party_b: str
    asset: str = "USDT"


@dataclass(frozen=True)
class PartyABalance:
    """PartyB's balance towards one PartyA (`balanceInfoOfPartyB`)."""

    party_a: str
    allocated: str
    locked: str  # cva + lf + partyBmm of open positions
    pending_locked: str  # the same of LOCKED quotes


@dataclass(frozen=True)
class BalanceView:
    party_b: str
    deposited: str  # PartyB's deposited, unallocated balance
    party_as: list[PartyABalance] = field(default_factory=list)
    broker_free: str = "0"
    broker_used: str = "0"
    broker_total: str = "0"


@dataclass(frozen=True)
class BalanceResult:
    run_id: str
    view: BalanceView
    alerted: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    actions: list[RebalanceResult] = field(default_factory=list)  # one per PartyA (bands on)


class BalanceApi:
    @activity.defn(name="balance_snapshot")
    async def snapshot(self, request: BalanceRequest) -> BalanceView:
        """PartyB's allocation per PartyA the ledger knows, and the broker account's collateral;
        also published as gauges."""
        raise NotImplementedError
