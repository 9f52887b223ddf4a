"""`chain_rebalance_party_b` against our devnet diamond (protocol-core 0.8.4's allocation rules,
real Muon verification) through a real Temporal worker: below the low band it allocates up to
the target, above the high band it deallocates down to it with a fresh `SingleUpnlSig`, a
second deallocation waits for the deallocate cooldown, the same key never sends twice, and a
dry run sends nothing. What was sent is read from the chain's blocks, not from the hedger."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from chain_helpers import chain_calls
from conftest import PRICE
from devnet_diamond import DevnetSymmio, devnet_diamond_fixtures
from temporalio.client import Client
from test_chain_activities import call, ok

from devnet.oracle.prices import StaticPriceSource
from devnet.stack.anvil import Anvil, rpc_call

pytestmark = pytest.mark.usefixtures("chain_worker")

hedger_key, symmio, oracle, party_a = devnet_diamond_fixtures(StaticPriceSource({"BTCUSDT": PRICE}))
WAD = 10**18


def _allocated(symmio: DevnetSymmio, party_b: str, party_a: str) -> Decimal:
    return (
        Decimal(symmio.contract.functions.allocatedBalanceOfPartyB(party_b, party_a).call()) / WAD
    )


async def test_bands_allocate_deallocate_after_the_cooldown_and_never_twice_per_key(
    temporal_client: Client, chain_worker: tuple[str, Any], symmio: DevnetSymmio,
    party_a: tuple[str, str], hedger_key: tuple[str, str], anvil: Anvil,
) -> None:  # fmt: skip
    us, them = hedger_key[1], party_a[1]
    start = symmio.w3.eth.block_number

    async def rebalance(low: str, target: str, high: str, key: str, **kw: Any) -> Any:
        request = {"party_a": them, "low": low, "target": target, "high": high,
                   "margin": "10", "key": key, **kw}  # fmt: skip
        return ok(await call(temporal_client, chain_worker, "chain_rebalance_party_b", request))

    assert _allocated(symmio, us, them) == 0
    up = await rebalance("100", "500", "1000", "run-1")
    assert (up["action"], up["amount"], up["headroom"]) == ("allocate", "500", "0")
    assert up["tx_hash"] and _allocated(symmio, us, them) == 500
    # the same key (a retried activity of the same run) sends nothing more
    again = await rebalance("100", "500", "1000", "run-1")
    assert again["already_done"] and again["tx_hash"] == up["tx_hash"]
    assert len(chain_calls(symmio, us, "allocateForPartyB", start)) == 1
    # a new run inside the band: nothing
    inside = await rebalance("100", "500", "1000", "run-2")
    assert inside["action"] == "none" and inside["tx_hash"] is None
    # a dry run reports, sends nothing
    dry = await rebalance("1000", "2000", "3000", "run-3", dry_run=True)
    assert (dry["action"], dry["amount"], dry["dry_run"]) == ("allocate", "1500", True)
    assert dry["tx_hash"] is None and _allocated(symmio, us, them) == 500

    down = await rebalance("10", "100", "200", "run-4")
    assert (down["action"], down["amount"]) == ("deallocate", "400") and down["tx_hash"]
    assert _allocated(symmio, us, them) == 100
    (sent,) = chain_calls(symmio, us, "deallocateForPartyB", start)
    assert sent["status"] == 1 and Decimal(sent["args"]["amount"]) / WAD == 400
    # a second surplus waits for the deallocate cooldown (120 s on the devnet)
    waiting = await rebalance("5", "50", "60", "run-5")
    assert waiting["action"] == "none" and "cooldown" in waiting["reason"]
    rpc_call(anvil.http_url, "evm_increaseTime", [125])
    rpc_call(anvil.http_url, "evm_mine", [])
    later = await rebalance("5", "50", "60", "run-6")
    assert (later["action"], later["amount"]) == ("deallocate", "50")
    retried = await rebalance("5", "50", "60", "run-6")
    assert retried["already_done"] and retried["tx_hash"] == later["tx_hash"]
    assert _allocated(symmio, us, them) == 50
    assert len(chain_calls(symmio, us, "deallocateForPartyB", start)) == 2
