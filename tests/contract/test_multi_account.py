"""The devnet MultiAccount: sub-accounts as PartyA proxies, paging, ownership, trading through one."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from web3 import Web3
from web3.exceptions import ContractLogicError

from config.settings import load_settings
from devnet.contracts.compile import load_artifacts
from devnet.demo import ensure_deployment
from devnet.stack.anvil import Anvil
from tests.contract.helpers import (
    BTC,
    E18,
    LONG,
    MARKET,
    PARTY_A,
    PARTY_A2,
    PRICE,
    QTY,
    Chain,
    addr,
)


def _multi(chain: Chain) -> Any:
    abi = load_artifacts()["contracts"]["MultiAccount"]["abi"]
    return chain.w3.eth.contract(address=Web3.to_checksum_address(chain.dep.multi_account), abi=abi)


def _add(chain: Chain, key: str, name: str) -> str:
    multi = _multi(chain)
    receipt = chain.send(key, "addAccount", name, contract=multi)
    (event,) = multi.events.AddAccount().process_receipt(receipt)
    assert event["args"]["user"] == addr(key)
    return str(event["args"]["account"])


def test_add_account_paging_and_owners(chain: Chain) -> None:
    multi = _multi(chain)
    subs = [_add(chain, PARTY_A, f"acc{i}") for i in range(3)]
    assert len(set(subs)) == 3
    for sub in subs:  # each a deployed proxy bound to this MultiAccount
        assert chain.w3.eth.get_code(Web3.to_checksum_address(sub)) not in (b"", None)
        assert multi.functions.owners(sub).call() == addr(PARTY_A)
    assert multi.functions.getAccountsLength(addr(PARTY_A)).call() == 3
    assert multi.functions.getAccountsLength(addr(PARTY_A2)).call() == 0
    page = multi.functions.getAccounts(addr(PARTY_A), 1, 5).call()
    assert [tuple(a) for a in page] == [(subs[1], "acc1"), (subs[2], "acc2")]
    assert multi.functions.getAccounts(addr(PARTY_A), 3, 5).call() == []
    assert multi.functions.getAccounts(addr(PARTY_A), 0, 1).call()[0][0] == subs[0]


def test_deposit_and_call_are_owner_only(chain: Chain) -> None:
    multi = _multi(chain)
    sub = _add(chain, PARTY_A, "main")
    call = chain.symmio.encode_abi("allocate", args=[E18])
    for fn, args in (("_call", [sub, [call]]), ("depositForAccount", [sub, E18])):
        with pytest.raises(ContractLogicError, match="isn't owner"):
            getattr(multi.functions, fn)(*args).call({"from": addr(PARTY_A2)})
    # the proxy itself takes calls only from its MultiAccount
    proxy_abi = load_artifacts()["contracts"]["SymmioPartyA"]["abi"]
    proxy = chain.w3.eth.contract(address=Web3.to_checksum_address(sub), abi=proxy_abi)
    with pytest.raises(ContractLogicError, match="only MultiAccount"):
        proxy.functions._call(call).call({"from": addr(PARTY_A)})


def test_send_quote_through_a_sub_account(chain: Chain) -> None:
    multi = _multi(chain)
    sub = _add(chain, PARTY_A, "trading")
    amount = 1_000 * E18
    chain.send(PARTY_A, "mint", addr(PARTY_A), amount, contract=chain.token)
    chain.send(PARTY_A, "approve", chain.dep.multi_account, amount, contract=chain.token)
    before = int(chain.token.functions.balanceOf(addr(PARTY_A)).call())
    chain.send(PARTY_A, "depositAndAllocateForAccount", sub, amount, contract=multi)
    assert int(chain.token.functions.balanceOf(addr(PARTY_A)).call()) == before - amount
    assert int(chain.view("allocatedBalanceOfPartyA", sub)) == amount

    last = int(chain.view("getNextQuoteId"))
    locked = (10 * E18, 5 * E18, 20 * E18, 10 * E18)
    data = chain.symmio.encode_abi(
        "sendQuote",
        args=[[], BTC, LONG, MARKET, PRICE + 100 * E18, QTY, *locked, 10**16,
              chain.now() + 600, chain.single_a_price(sub, PRICE)],
    )  # fmt: skip
    chain.send(PARTY_A, "_call", sub, [data], contract=multi)
    qid = int(chain.view("getNextQuoteId"))
    assert qid == last + 1
    quote = chain.view("getQuote", qid)
    assert Web3.to_checksum_address(quote[14]) == sub  # Quote.partyA: the sub-account
    assert list(chain.view("getPartyAPendingQuotes", sub)) == [qid]
    assert list(chain.view("getPartyAPendingQuotes", addr(PARTY_A))) == []
    stats = chain.view("partyAStats", sub)
    assert int(stats[6]) == locked[0]  # pending cva


def test_demo_env_serves_the_devnet_multi_account(
    chain: Chain, contract_anvil: Anvil, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make demo`'s deployment step hands the MultiAccount to every hedger process."""
    stack = SimpleNamespace(
        running_url=lambda _name: contract_anvil.http_url,
        state_dir=tmp_path,
        env_path=tmp_path / "devnet.env",
    )
    assert ensure_deployment(stack, log=lambda _: None) is not None  # type: ignore[arg-type]
    deployment = json.loads((tmp_path / "devnet" / "deployment.json").read_text())
    env = dict(
        line.split("=", 1) for line in (tmp_path / "devnet.env").read_text().splitlines() if line
    )
    assert env["HEDGER_MULTI_ACCOUNTS"] == deployment["multi_account"]
    monkeypatch.setenv("HEDGER_MULTI_ACCOUNTS", env["HEDGER_MULTI_ACCOUNTS"])
    assert load_settings().multi_accounts == [deployment["multi_account"]]
    code = chain.w3.eth.get_code(Web3.to_checksum_address(deployment["multi_account"]))
    assert code not in (b"", None)
