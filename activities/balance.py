"""Balance-manager activity (task queue `hedger-ops`): read-only. PartyB's balance per PartyA
(the PartyAs the ledger knows) and the broker account's collateral, returned and published as
gauges. Shares the chain and broker clients of the validator's activities. The contract is
`interfaces.balance.BalanceApi`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from prometheus_client import Gauge
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.broker_errors import to_application_error
from activities.validator import ValidatorActivities
from adapters.broker.errors import BrokerError
from adapters.chain.errors import RpcUnavailable
from interfaces.balance import BalanceApi, BalanceRequest, BalanceView, PartyABalance

PARTY_B_BALANCE = Gauge(
    "hedger_partyb_balance", "PartyB's balance towards a PartyA (allocated, locked, pending_locked)",
    ["party_a", "kind"],
)  # fmt: skip
BROKER_COLLATERAL = Gauge(
    "hedger_broker_collateral", "The broker account's collateral (free, used, total)", ["kind"]
)


def _s(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


class BalanceActivities(BalanceApi):
    def __init__(self, reads: ValidatorActivities) -> None:
        self.reads = reads

    def activities(self) -> list[Any]:
        return [self.snapshot]

    @activity.defn(name="balance_snapshot")
    async def snapshot(self, request: BalanceRequest) -> BalanceView:
        try:
            chain = self.reads.chain
            rows = []
            for party_a in sorted(await self.reads.ledger_party_as()):
                info = await chain.balance_info_of_party_b(request.party_b, party_a)
                locked = info.locked.total_for_party_b
                pending = info.pending_locked.total_for_party_b
                rows.append(PartyABalance(party_a, _s(info.allocated), _s(locked), _s(pending)))
                for kind, value in (("allocated", info.allocated), ("locked", locked),
                                    ("pending_locked", pending)):  # fmt: skip
                    PARTY_B_BALANCE.labels(party_a, kind).set(float(value))
            deposited = await chain.balance_of(request.party_b)
            balance = await self.reads.broker.fetch_balance(request.asset)
        except RpcUnavailable as exc:
            raise ApplicationError(f"RpcUnavailable: {exc}", type="RpcUnavailable") from exc
        except BrokerError as exc:
            raise to_application_error(exc) from exc
        for kind in ("free", "used", "total"):
            BROKER_COLLATERAL.labels(kind).set(float(Decimal(getattr(balance, kind))))
        return BalanceView(
            party_b=request.party_b, deposited=_s(deposited), party_as=rows,
            broker_free=balance.free, broker_used=balance.used, broker_total=balance.total,
        )  # fmt: skip
