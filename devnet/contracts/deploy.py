"""Deploy and initialise the devnet SYMMIO-compatible diamond on an RPC node (anvil).

`deploy_and_initialise(rpc_url, ...)` deploys the collateral token, the facets and the diamond,
registers every facet's selectors, configures roles, symbols, cooldowns, Muon keys, registers and
funds our PartyB, and writes the addresses to a JSON file (keys: see `Deployment.to_json`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.abi import function_abi_to_4byte_selector
from eth_utils.crypto import keccak
from web3 import Web3

from devnet.contracts.compile import FACETS, load_artifacts
from devnet.contracts.keys import ANVIL_KEYS as ANVIL_KEYS  # re-exported (tests)
from devnet.contracts.keys import (
    DEFAULT_ADMIN_KEY,
    DEFAULT_HEDGER_KEY,
    DEFAULT_OUT_PATH,
    DEFAULT_TRADER_KEYS,
)

E18 = 10**18
ROLES = (
    "DEFAULT_ADMIN_ROLE",
    "MUON_SETTER_ROLE",
    "SYMBOL_MANAGER_ROLE",
    "SETTER_ROLE",
    "PAUSER_ROLE",
    "UNPAUSER_ROLE",
    "PARTY_B_MANAGER_ROLE",
    "LIQUIDATOR_ROLE",
    "SUSPENDER_ROLE",
)
# name, minAcceptableQuoteValue, minAcceptablePortionLF, tradingFee, maxLeverage, epoch, window
SYMBOLS = (
    ("BTCUSDT", 5 * E18, 10**16, 10**15, 100 * E18, 28800, 900),
    ("ETHUSDT", 5 * E18, 10**16, 10**15, 100 * E18, 28800, 900),
)
COOLDOWNS = {
    "setDeallocateCooldown": (120,),
    "setForceCancelCooldown": (300,),
    "setForceCancelCloseCooldown": (300,),
    "setForceCloseCooldowns": (300, 120),
    "setLiquidationTimeout": (600,),
    "setLiquidatorShare": (5 * 10**16,),
    "setPendingQuotesValidLength": (100,),
    "setBalanceLimitPerUser": (10**9 * E18,),
    "setSettlementCooldown": (300,),
    "setForceClosePricePenalty": (10**15,),  # 0.1% against PartyB
    "setForceCloseMinSigPeriod": (60,),
}
FORCE_CLOSE_GAP_RATIO = 10**15  # per symbol: the window must cross the requested price by 0.1%
UPNL_VALID_TIME = 300
PRICE_VALID_TIME = 60
PARTY_B_FUNDING = 1_000_000 * E18


@dataclass
class Deployment:
    chain_id: int
    symmio: str
    collateral: str
    facets: dict[str, str]
    admin: str
    party_b: str
    deploy_block: int
    muon_app_id: int
    muon_public_key: tuple[int, int]
    muon_gateway: str
    traders: list[str] = field(default_factory=list)
    multi_account: str = ""  # our MultiAccount (sub-accounts as PartyA), deployed last

    def to_json(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "symmio": self.symmio,
            "collateral": self.collateral,
            "facets": self.facets,
            "admin": self.admin,
            "party_b": self.party_b,
            "traders": self.traders,
            "multi_account": self.multi_account,
            "deploy_block": self.deploy_block,
            "muon": {
                "app_id": str(self.muon_app_id),
                "public_key": {
                    "x": hex(self.muon_public_key[0]),
                    "parity": self.muon_public_key[1],
                },
                "gateway": self.muon_gateway,
                "upnl_valid_time": UPNL_VALID_TIME,
                "price_valid_time": PRICE_VALID_TIME,
            },
        }


class Sender:
    """Signs and sends transactions from one key, waiting for each receipt (anvil mines instantly)."""

    def __init__(self, w3: Web3, key: str) -> None:
        self.w3 = w3
        self.account: LocalAccount = Account.from_key(key)
        self.nonce: int = int(w3.eth.get_transaction_count(self.account.address))

    @property
    def address(self) -> str:
        return str(self.account.address)

    def send(self, tx: dict[str, Any]) -> dict[str, Any]:
        tx = dict(tx)
        tx.update(
            {
                "from": self.account.address,
                "nonce": self.nonce,
                "chainId": self.w3.eth.chain_id,
                "gas": tx.get("gas", 8_000_000),
                "maxFeePerGas": 10**11,
                "maxPriorityFeePerGas": 10**9,
            }
        )
        signed = self.account.sign_transaction(tx)
        self.nonce += 1
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = dict(self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30))
        if receipt["status"] != 1:
            raise RuntimeError(f"transaction failed: {tx_hash.hex()}")
        return receipt

    def deploy(self, abi: list[dict[str, Any]], bytecode: str, *args: Any) -> str:
        tx = (
            self.w3.eth.contract(abi=abi, bytecode=bytecode)
            .constructor(*args)
            .build_transaction({"from": self.account.address, "gas": 12_000_000})
        )
        return str(self.send(tx)["contractAddress"])

    def call(self, contract: Any, fn: str, *args: Any) -> dict[str, Any]:
        tx = getattr(contract.functions, fn)(*args).build_transaction(
            {"from": self.account.address, "gas": 3_000_000}
        )
        return self.send(tx)


def facet_selectors(abi: list[dict[str, Any]]) -> list[bytes]:
    return [function_abi_to_4byte_selector(cast(Any, e)) for e in abi if e["type"] == "function"]


def diamond_abi() -> list[dict[str, Any]]:
    from devnet.contracts.compile import combined_abi

    return combined_abi(load_artifacts()["contracts"])


def deploy_and_initialise(
    rpc_url: str,
    *,
    admin_key: str = DEFAULT_ADMIN_KEY,
    hedger_key: str = DEFAULT_HEDGER_KEY,
    muon_public_key: tuple[int, int],
    muon_gateway: str,
    muon_app_id: int,
    out_path: Path | None = DEFAULT_OUT_PATH,
    party_b_funding: int = PARTY_B_FUNDING,
) -> Deployment:
    w3 = Web3(Web3.HTTPProvider(rpc_url))
    contracts = load_artifacts()["contracts"]
    admin = Sender(w3, admin_key)
    start_block = w3.eth.block_number
    token_addr = admin.deploy(
        contracts["CollateralToken"]["abi"], contracts["CollateralToken"]["bytecode"]
    )
    # From a fresh chain this puts the collateral at admin nonce 0 and the diamond at nonce 2, the
    # addresses of the symmio-vectors run.
    facets: dict[str, str] = {}
    facets[FACETS[0]] = admin.deploy(contracts[FACETS[0]]["abi"], contracts[FACETS[0]]["bytecode"])
    diamond_addr = admin.deploy(
        contracts["Diamond"]["abi"], contracts["Diamond"]["bytecode"], admin.address
    )
    diamond_cut = w3.eth.contract(
        address=Web3.to_checksum_address(diamond_addr), abi=contracts["Diamond"]["abi"]
    )
    for name in FACETS:
        if name not in facets:
            facets[name] = admin.deploy(contracts[name]["abi"], contracts[name]["bytecode"])
        admin.call(diamond_cut, "setFacet", facets[name], facet_selectors(contracts[name]["abi"]))
    symmio = w3.eth.contract(address=Web3.to_checksum_address(diamond_addr), abi=diamond_abi())
    for role in ROLES:
        admin.call(symmio, "grantRole", admin.address, keccak(text=role))
    admin.call(symmio, "setCollateral", token_addr)
    for sym in SYMBOLS:
        admin.call(symmio, "addSymbol", *sym)
    for fn, args in COOLDOWNS.items():
        admin.call(symmio, fn, *args)
    for symbol_id in range(1, len(SYMBOLS) + 1):
        admin.call(symmio, "setForceCloseGapRatio", symbol_id, FORCE_CLOSE_GAP_RATIO)
    admin.call(
        symmio,
        "setMuonIds",
        muon_app_id,
        Web3.to_checksum_address(muon_gateway),
        (muon_public_key[0], muon_public_key[1]),
    )
    admin.call(symmio, "setMuonConfig", UPNL_VALID_TIME, PRICE_VALID_TIME)
    hedger = Sender(w3, hedger_key)
    admin.call(symmio, "registerPartyB", hedger.address)
    token = w3.eth.contract(
        address=Web3.to_checksum_address(token_addr), abi=contracts["CollateralToken"]["abi"]
    )
    if party_b_funding:
        admin.call(token, "mint", hedger.address, party_b_funding)
        hedger.call(token, "approve", diamond_addr, party_b_funding)
        hedger.call(symmio, "deposit", party_b_funding)
    # Last, so the collateral and diamond addresses above stay where they were.
    multi_account = admin.deploy(
        contracts["MultiAccount"]["abi"], contracts["MultiAccount"]["bytecode"], diamond_addr
    )
    deployment = Deployment(
        chain_id=w3.eth.chain_id,
        symmio=str(symmio.address),
        collateral=Web3.to_checksum_address(token_addr),
        facets={k: Web3.to_checksum_address(v) for k, v in facets.items()},
        admin=admin.address,
        party_b=hedger.address,
        deploy_block=start_block + 1,
        muon_app_id=muon_app_id,
        muon_public_key=muon_public_key,
        muon_gateway=Web3.to_checksum_address(muon_gateway),
        traders=[str(Account.from_key(k).address) for k in DEFAULT_TRADER_KEYS],
        multi_account=Web3.to_checksum_address(multi_account),
    )
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(deployment.to_json(), indent=1) + "\n")
    return deployment


def devnet_deploy(rpc_url: str, out_path: Path) -> dict[str, Any]:
    """Entry point used by the demo: deploy with the devnet default Muon signer."""
    from devnet.oracle.signer import DEVNET_MUON_APP_ID, default_devnet_signer

    signer = default_devnet_signer()
    pk = signer.public_key
    deployment = deploy_and_initialise(
        rpc_url,
        muon_public_key=(pk.x, pk.parity),
        muon_gateway=signer.gateway_address,
        muon_app_id=DEVNET_MUON_APP_ID,
        out_path=out_path,
    )
    return deployment.to_json()
