"""What production sends and listens for is protocol-core 0.8.4's, whatever the local contract
says: the packaged ABI (`adapters/chain/abi/symmio.json`) is generated from the devnet
contract, so an edit there would silently change calldata and topic filters. This test takes
every diamond function the production code names and every event it decodes, filters or
fetches from the subgraph, resolves them through the packaged ABI and compares selector,
topic0 and canonical signature with the published 0.8.4 ABI's (the facts in
`symmio_084_signatures.txt`, from SYMM-IO/protocol-core `abis/symmio.json`)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from eth_utils.crypto import keccak

from adapters.chain.abi import ABI_PATH
from domain.events import EVENTS_BY_TOPIC0
from domain.subgraph_entities import entity_spec
from tests.contract.helpers import _canon
from workers.listeners.delivery import listened_topic0s
from workers.listeners.subgraph import routed_entities

REPO = Path(__file__).resolve().parents[2]
PRODUCTION = (
    "domain",
    "interfaces",
    "config",
    "adapters",
    "ledger",
    "activities",
    "workers",
    "api",
)
TABLE = Path(__file__).with_name("symmio_084_signatures.txt")

# What the hedger must keep sending, pinned (selector facts of 0.8.4, SYMMIO.md §2.4): losing
# one of these from the code is fine, but none of them may change.
CORE_CALLS = {
    "lockQuote": "ca6b88de",
    "unlockQuote": "1bc10456",
    "openPosition": "fa59fbe8",
    "fillCloseRequest": "e0020899",
    "acceptCancelRequest": "606a243b",
    "acceptCancelCloseRequest": "89b90cd3",
    "allocateForPartyB": "cd0bac16",
    "getQuote": "cf39918e",
    "nonceOfPartyA": "060063b5",
    "nonceOfPartyB": "0182e05d",
}


def real_table() -> tuple[dict[str, str], dict[str, str]]:
    """(function signature -> selector, event signature -> topic0) of 0.8.4."""
    functions: dict[str, str] = {}
    events: dict[str, str] = {}
    for line in TABLE.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        kind, ident, sig = line.split(" ", 2)
        (functions if kind == "fu" else events)[sig] = ident
    return functions, events


def packaged() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """name -> canonical signatures, for functions and events of the packaged ABI."""
    abi = json.loads(ABI_PATH.read_text())
    entries = abi["abi"] if isinstance(abi, dict) else abi
    functions: dict[str, list[str]] = {}
    events: dict[str, list[str]] = {}
    for e in entries:
        if e.get("type") not in ("function", "event"):
            continue
        sig = f"{e['name']}({','.join(_canon(i) for i in e['inputs'])})"
        (functions if e["type"] == "function" else events).setdefault(e["name"], []).append(sig)
    return functions, events


def names_in_production(candidates: set[str]) -> set[str]:
    """Every string constant (or `.functions.X` attribute) of production code naming one of
    `candidates`."""
    found: set[str] = set()
    for package in PRODUCTION:
        for path in (REPO / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    if node.value in candidates:
                        found.add(node.value)
                elif isinstance(node, ast.Attribute) and node.attr in candidates:
                    if isinstance(node.value, ast.Attribute) and node.value.attr == "functions":
                        found.add(node.attr)
    return found


def test_every_function_production_calls_is_084s() -> None:
    real_fns, _ = real_table()
    ours, _ = packaged()
    used = names_in_production(set(ours))
    assert {"lockQuote", "openPosition", "fillCloseRequest", "getQuote"} <= used, used
    for name in sorted(used):
        sigs = ours[name]
        assert len(sigs) == 1, f"{name}: overloaded in the packaged ABI ({sigs}): by-name calls"
        sig = sigs[0]
        selector = keccak(text=sig).hex()[:8]
        assert real_fns.get(sig) == selector, f"{sig} ({selector}) is not 0.8.4's"
    for name, selector in CORE_CALLS.items():
        (sig,) = ours[name]
        assert keccak(text=sig).hex()[:8] == selector, f"{name} changed: {sig}"


def test_every_event_production_decodes_filters_or_fetches_is_084s() -> None:
    _, real_events = real_table()
    _, ours = packaged()
    filtered = set(listened_topic0s())
    for topic0, spec in EVENTS_BY_TOPIC0.items():  # every decoder
        assert topic0 == "0x" + keccak(text=spec.signature).hex()
        assert real_events.get(spec.signature) == topic0[2:], f"{spec.signature} is not 0.8.4's"
        if topic0 in filtered:  # what the listeners ask the node for, the devnet emits too
            assert spec.signature in ours.get(spec.name, []), (
                f"the devnet contract does not declare {spec.signature}"
            )
    assert filtered and filtered <= {"0x" + t for t in real_events.values()}
    for name in routed_entities():  # the subgraph fetcher's entity types: their current form
        spec = entity_spec(name)
        assert not spec.legacy and real_events[spec.signature] == spec.topic0[2:], name
        assert spec.topic0 in filtered  # the same events the other two listeners filter
