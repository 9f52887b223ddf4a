"""PartyA liquidation path (LIQUIDATOR_ROLE) with a real Muon LiquidationSig."""

from __future__ import annotations

from domain import muon
from domain.enums import QuoteStatus
from tests.symmio.conftest import BTC, E18, Env, revert_reason


def _liq_sig(
    env: Env, party_a: str, upnl: int, price: int, *, liq_id: bytes = b"liq-1"
) -> tuple[object, ...]:
    ts = env.now()
    h = muon.liquidation_hash(
        muon_app_id=env.app_id,
        req_id=b"r",
        liquidation_id=liq_id,
        symmio=env.symmio.address,
        party_a=party_a,
        nonce_a=env.f.nonceOfPartyA(party_a).call(),
        upnl=upnl,
        total_unrealized_loss=upnl,
        symbol_ids=[BTC],
        prices=[price],
        timestamp=ts,
        chain_id=env.w3.eth.chain_id,
    )
    s = env.signer.sign(h.digest)
    return muon.LiquidationSig(
        b"r",
        ts,
        liq_id,
        upnl,
        upnl,
        (BTC,),
        (price,),
        s.gateway_signature,
        muon.SchnorrSign(s.s, s.owner, s.nonce_address),
    ).to_abi_tuple()


def test_liquidate_party_a(env: Env) -> None:
    a, b = env.party_a.address, env.hedger.address
    qid, _ = env.send_quote()
    env.lock(qid)
    env.open(qid, 10**16, 60_000 * E18)
    pending, _ = env.send_quote()
    f = env.f
    # solvent PartyA cannot be liquidated; a forged signature is rejected
    assert "PartyA is solvent" in revert_reason(
        f.liquidatePartyA(a, _liq_sig(env, a, 0, 60_000 * E18)), env.admin
    )
    bad = list(_liq_sig(env, a, -(10**23), 30_000 * E18))
    bad[3] = -(10**24)  # upnl changed after signing
    assert "LibMuon: TSS not verified" in revert_reason(f.liquidatePartyA(a, tuple(bad)), env.admin)
    assert "Must has role" in revert_reason(
        f.liquidatePartyA(a, _liq_sig(env, a, -(10**23), 1)), env.hedger
    )

    r = env.admin.call(f.liquidatePartyA(a, _liq_sig(env, a, -(10**23), 30_000 * E18)))
    assert env.names(r) == ["LiquidatePartyA", "LiquidatePartyA*"]
    assert f.partyAStats(a).call()[0] is True
    r = env.admin.call(f.liquidatePendingPositionsPartyA(a))
    assert env.names(r) == ["LiquidatePendingPositionsPartyA", "LiquidatePendingPositionsPartyA*"]
    assert env.status(pending) == QuoteStatus.LIQUIDATED_PENDING
    r = env.admin.call(f.liquidatePositionsPartyA(a, [qid]))
    assert env.names(r) == ["LiquidatePositionsPartyA", "LiquidatePositionsPartyA*"]
    assert env.status(qid) == QuoteStatus.LIQUIDATED
    b_alloc = f.allocatedBalanceOfPartyB(b, a).call()
    r = env.admin.call(f.settlePartyALiquidation(a, [b]))
    assert env.names(r) == [
        "SettlePartyALiquidation",
        "SettlePartyALiquidation*",
        "FullyLiquidatedPartyA",
        "FullyLiquidatedPartyA*",
    ]
    loss = 10**16 * 30_000 * E18 // E18
    assert f.allocatedBalanceOfPartyB(b, a).call() == b_alloc + loss
    assert f.allocatedBalanceOfPartyA(a).call() == 0
    assert f.partyAStats(a).call()[0] is False
    assert f.balanceInfoOfPartyB(b, a).call()[1:] == [0] * 8
