"""Compile devnet/contracts/src with solc-js (node) and write the committed artifacts.

`python -m devnet.contracts.compile` rebuilds `build/artifacts.json` (abi + bytecode per contract and
the source hash) and the hedger's combined diamond ABI `adapters/chain/abi/symmio.json`. The build is
skipped when the source hash (sources + compiler version + settings) matches the artifacts.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
BUILD = HERE / "build" / "artifacts.json"
DEVNET = HERE.parent
REPO = DEVNET.parent
HEDGER_ABI = REPO / "adapters" / "chain" / "abi" / "symmio.json"
SOLC_VERSION = "0.8.28"
SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "cancun",
    "metadata": {"bytecodeHash": "none"},
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}
FACETS = (
    "AccountFacet",
    "PartyAFacet",
    "PartyBFacet",
    "ControlFacet",
    "ViewFacet",
    "LiquidationFacet",
    "FundingRateFacet",
    "SettlementFacet",
    "ForceActionsFacet",
)
CODE_SIZE_LIMIT = 24_576
# Functions a facet serves through its fallback (their ABI comes from an interface).
FACET_EXTRA_ABI = {"PartyAFacet": "IPartyAQuotes", "ViewFacet": "IViewExtra"}


def read_sources() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(SRC.glob("*.sol"))}


def source_hash(sources: dict[str, str] | None = None) -> str:
    srcs = read_sources() if sources is None else sources
    blob = json.dumps({"sources": srcs, "solc": SOLC_VERSION, "settings": SETTINGS}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def load_artifacts() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(BUILD.read_text())
    return data


def _run_solc(sources: dict[str, str]) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is required to compile the devnet contracts")
    req = {"sources": {k: {"content": v} for k, v in sources.items()}, "settings": SETTINGS}
    proc = subprocess.run(
        [node, str(HERE / "compile.js")],
        input=json.dumps(req),
        capture_output=True,
        text=True,
        cwd=DEVNET,
        env={"NODE_PATH": str(DEVNET / "node_modules")},
        check=True,
    )
    result: dict[str, Any] = json.loads(proc.stdout)
    if not result["version"].startswith(SOLC_VERSION):
        raise RuntimeError(f"solc-js {result['version']} is not {SOLC_VERSION}")
    return result


def combined_abi(contracts: dict[str, Any]) -> list[dict[str, Any]]:
    """Union of the facet ABIs (functions and events, legacy overloads kept), deduped by signature."""
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for name in FACETS:
        for item in contracts[name]["abi"]:
            if item["type"] not in ("function", "event"):
                continue
            key = item["type"] + item["name"] + json.dumps(item.get("inputs", []), sort_keys=True)
            if key not in seen:
                seen.add(key)
                out.append(item)
    return out


def compile_all(force: bool = False) -> dict[str, Any]:
    sources = read_sources()
    digest = source_hash(sources)
    if not force and BUILD.exists() and load_artifacts().get("source_hash") == digest:
        return load_artifacts()
    result = _run_solc(sources)
    errors = [e for e in result["output"].get("errors", []) if e["severity"] == "error"]
    if errors:
        raise RuntimeError("\n".join(e["formattedMessage"] for e in errors))
    contracts: dict[str, Any] = {}
    for file_out in result["output"]["contracts"].values():
        for name, c in file_out.items():
            code = c["evm"]["bytecode"]["object"]
            if not code:
                if name in FACET_EXTRA_ABI.values():
                    contracts[name] = {"abi": c["abi"], "bytecode": "0x", "runtime_size": 0}
                continue
            runtime = c["evm"]["deployedBytecode"]["object"]
            if len(runtime) // 2 > CODE_SIZE_LIMIT:
                raise RuntimeError(
                    f"{name} runtime is {len(runtime) // 2} bytes (> {CODE_SIZE_LIMIT})"
                )
            contracts[name] = {
                "abi": c["abi"],
                "bytecode": "0x" + code,
                "runtime_size": len(runtime) // 2,
            }
    for facet, iface in FACET_EXTRA_ABI.items():
        contracts[facet]["abi"] = contracts[facet]["abi"] + contracts[iface]["abi"]
    artifacts = {"source_hash": digest, "solc": result["version"], "contracts": contracts}
    BUILD.parent.mkdir(parents=True, exist_ok=True)
    BUILD.write_text(json.dumps(artifacts, indent=1, sort_keys=True) + "\n")
    HEDGER_ABI.parent.mkdir(parents=True, exist_ok=True)
    HEDGER_ABI.write_text(json.dumps(combined_abi(contracts), indent=1) + "\n")
    return artifacts


def main() -> None:
    arts = compile_all(force="--force" in sys.argv)
    for name, c in sorted(arts["contracts"].items()):
        print(f"{name}: {c['runtime_size']} bytes")


if __name__ == "__main__":
    main()
