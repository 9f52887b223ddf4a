"""Deploy and initialise our SYMMIO-compatible diamond (devnet/symmio/src) on an RPC endpoint.

`deploy_and_initialise(rpc_url, admin_key=..., hedger_key=..., muon_signer=..., muon_app_id=...)`
deploys the collateral, the five facets and the diamond, grants roles, configures symbols, cooldowns
and Muon keys, registers and funds the hedger (PartyB), and returns (and optionally writes) a JSON
description: {chain_id, symmio, collateral, deploy_block, admin, party_b, muon_app_id, gateway, facets}.

    python -m devnet.symmio.deploy --rpc http://127.0.0.1:8545 --out /tmp/symmio.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, cast

from eth_account import Account
from eth_typing import ChecksumAddress
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract
from web3.types import TxParams

from devnet.oracle.signer import (
    DEVNET_MUON_APP_ID,
    MuonPublicKey,
    MuonSigner,
    default_devnet_signer,
)
from devnet.symmio.compile import FACETS, compile_all, diamond_abi

# anvil's well-known dev accounts (PUBLIC TEST KEYS)
ANVIL_KEYS = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
)
DEFAULT_ADMIN_KEY = ANVIL_KEYS[0]
DEFAULT_HEDGER_KEY = ANVIL_KEYS[2]  # 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC

ROLES = (
    "DEFAULT_ADMIN_ROLE",
    "MUON_SETTER_ROLE",
    "SYMBOL_MANAGER_ROLE",
    "SETTER_ROLE",
    "LIQUIDATOR_ROLE",
    "PAUSER_ROLE",
    "UNPAUSER_ROLE",
    "PARTY_B_MANAGER_ROLE",
    "AFFILIATE_MANAGER_ROLE",
    "SUSPENDER_ROLE",
    "DISPUTE_ROLE",
)
SYMBOLS = (("BTCUSDT", 1), ("ETHUSDT", 2))
PARTY_B_FUNDING = 10_000_000 * 10**18
E18 = 10**18


class DeployError(RuntimeError):
    """A deployment transaction reverted."""


def role_id(name: str) -> bytes:
    return keccak(text=name)


def selectors_of(abi: list[dict[str, Any]]) -> list[bytes]:
    def typ(i: dict[str, Any]) -> str:
        t = str(i["type"])
        if t.startswith("tuple"):
            return "(" + ",".join(typ(c) for c in i["components"]) + ")" + t[5:]
        return t

    return [
        keccak(text=f"{e['name']}({','.join(typ(i) for i in e['inputs'])})")[:4]
        for e in abi
        if e["type"] == "function"
    ]


class Sender:
    """Signs and sends transactions with one key, waiting for each receipt."""

    def __init__(self, w3: Web3, key: str) -> None:
        self.w3 = w3
        self.account = Account.from_key(key)
        self.address: ChecksumAddress = self.account.address

    def send(self, tx: dict[str, Any]) -> Any:
        tx = dict(tx)
        tx.setdefault("from", self.address)
        tx.setdefault("chainId", self.w3.eth.chain_id)
        tx["nonce"] = self.w3.eth.get_transaction_count(self.address, "pending")
        # web3's build_transaction fills in a bare estimate; keep a margin (delegatecall's 63/64 rule)
        tx.pop("gas", None)
        tx["gas"] = int(self.w3.eth.estimate_gas(cast(TxParams, tx)) * 1.3) + 50_000
        tx.pop("gasPrice", None)
        if "maxFeePerGas" not in tx:
            base = self.w3.eth.get_block("latest").get("baseFeePerGas", 1_000_000_000)
            tx["maxFeePerGas"] = int(base) * 2 + 1_000_000_000
            tx["maxPriorityFeePerGas"] = 1_000_000_000
        signed = self.account.sign_transaction(tx)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
        if receipt["status"] != 1:
            reason = ""
            try:  # replay on the parent block to get the revert reason
                call = {k: tx[k] for k in ("from", "to", "data", "value") if k in tx}
                self.w3.eth.call(call, block_identifier=int(receipt["blockNumber"]) - 1)  # type: ignore[arg-type]
            except Exception as exc:  # web3 raises ContractLogicError with the reason
                reason = str(exc)
            raise DeployError(
                f"transaction {tx_hash.hex()} reverted {reason} (gas {receipt['gasUsed']}/{tx['gas']})"
            )
        return receipt

    def call(self, fn: Any) -> Any:
        """Send a contract function call (`contract.functions.x(...)`)."""
        return self.send(fn.build_transaction({"from": self.address}))

    def deploy(self, abi: list[dict[str, Any]], bytecode: str, *args: Any) -> str:
        ctor = self.w3.eth.contract(abi=abi, bytecode=bytecode).constructor(*args)
        receipt = self.send(ctor.build_transaction({"from": self.address}))
        return str(receipt["contractAddress"])


def symmio_contract(w3: Web3, address: str) -> Contract:
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=diamond_abi())


def collateral_contract(w3: Web3, address: str) -> Contract:
    abi = compile_all()["contracts"]["DevCollateral"]["abi"]
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi)


def deploy_and_initialise(
    rpc_url: str,
    *,
    admin_key: str = DEFAULT_ADMIN_KEY,
    hedger_key: str = DEFAULT_HEDGER_KEY,
    muon_signer: MuonSigner | tuple[MuonPublicKey, str] | None = None,
    muon_app_id: int = DEVNET_MUON_APP_ID,
    out_path: Path | None = None,
) -> dict[str, Any]:
    """Deploy + initialise; `muon_signer` is a MuonSigner or (public key, gateway address);
    None = the devnet default signer (the one devnet/oracle uses)."""
    if muon_signer is None:
        muon_signer = default_devnet_signer()
    if isinstance(muon_signer, MuonSigner):
        pubkey, gateway = muon_signer.public_key, muon_signer.gateway_address
    else:
        pubkey, gateway = muon_signer

    art = compile_all()["contracts"]
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 60}))
    admin = Sender(w3, admin_key)
    hedger = Sender(w3, hedger_key)
    start_block = w3.eth.block_number

    collateral_addr = admin.deploy(art["DevCollateral"]["abi"], art["DevCollateral"]["bytecode"])
    facet_addrs: dict[str, str] = {}
    for name in FACETS:
        facet_addrs[name] = admin.deploy(art[name]["abi"], art[name]["bytecode"])
    diamond_addr = admin.deploy(
        art["SymmioDiamond"]["abi"],
        art["SymmioDiamond"]["bytecode"],
        admin.address,
        [facet_addrs[n] for n in FACETS],
        [selectors_of(art[n]["abi"]) for n in FACETS],
    )
    deploy_block = start_block + 1

    s = symmio_contract(w3, diamond_addr)
    f = s.functions
    admin.call(f.setAdmin(admin.address))
    for role in ROLES:
        admin.call(f.grantRole(admin.address, role_id(role)))
    admin.call(f.setCollateral(collateral_addr))
    for name, expected_id in SYMBOLS:
        admin.call(f.addSymbol(name, 5 * E18, 10**16, 10**15, 100 * E18, 28800, 900))
        assert f.getSymbol(expected_id).call()[1] == name
    admin.call(f.setPendingQuotesValidLength(100))
    admin.call(f.setBalanceLimitPerUser(10**30))
    admin.call(f.setDeallocateCooldown(120))
    admin.call(f.setForceCancelCooldown(300))
    admin.call(f.setForceCancelCloseCooldown(300))
    admin.call(f.setForceCloseCooldowns(300, 120))
    admin.call(f.setLiquidationTimeout(100))
    admin.call(
        f.setMuonIds(muon_app_id, Web3.to_checksum_address(gateway), (pubkey.x, pubkey.parity))
    )
    admin.call(f.setMuonConfig(300, 300))
    admin.call(f.registerPartyB(hedger.address))

    token = collateral_contract(w3, collateral_addr)
    hedger.call(token.functions.mint(hedger.address, PARTY_B_FUNDING))
    hedger.call(token.functions.approve(diamond_addr, 2**256 - 1))
    hedger.call(f.deposit(PARTY_B_FUNDING))

    info: dict[str, Any] = {
        "chain_id": w3.eth.chain_id,
        "symmio": diamond_addr,
        "collateral": collateral_addr,
        "deploy_block": deploy_block,
        "admin": admin.address,
        "party_b": hedger.address,
        "muon_app_id": muon_app_id,
        "gateway": Web3.to_checksum_address(gateway),
        "facets": facet_addrs,
    }
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(info, indent=2) + "\n")
    return info


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rpc", default="http://127.0.0.1:8545")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    print(json.dumps(deploy_and_initialise(args.rpc, out_path=args.out), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
