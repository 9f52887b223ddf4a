"""Compile devnet/symmio/src/*.sol with solc-js (node) via standard JSON; cached by source hash.

`python -m devnet.symmio.compile` writes `build/artifacts.json` (abi + bytecode per contract and the
source hash) and `build/symmio.abi.json` (the combined diamond ABI: every facet's functions and
events, deduplicated). A rebuild only happens when sha256(sources + compiler version + settings)
changes.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
BUILD = HERE / "build"
ARTIFACTS = BUILD / "artifacts.json"
DIAMOND_ABI = BUILD / "symmio.abi.json"
NODE_MODULES = HERE.parent / "node_modules"

SOLC_VERSION = "0.8.28"
SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "cancun",
    "viaIR": False,
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}
FACETS = (
    "ControlFacet",
    "AccountFacet",
    "PartyAFacet",
    "PartyBFacet",
    "ViewFacet",
    "LiquidationFacet",
)
EIP170_LIMIT = 24_576
# Functions served by a facet's fallback (too many arguments/returns for the legacy code generator):
# their ABI comes from an interface and is merged into the facet's ABI.
FALLBACK_ABI = {"PartyAFacet": "IPartyAQuoteEntry", "ViewFacet": "IViewFallback"}


class CompileError(RuntimeError):
    """solc reported an error."""


def _sources() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(SRC.glob("*.sol"))}


def _installed_solc_version() -> str:
    pkg = json.loads((NODE_MODULES / "solc" / "package.json").read_text())
    return str(pkg["version"])


def source_hash(sources: dict[str, str] | None = None) -> str:
    srcs = _sources() if sources is None else sources
    h = hashlib.sha256()
    h.update(_installed_solc_version().encode())
    h.update(json.dumps(SETTINGS, sort_keys=True).encode())
    for name, text in sorted(srcs.items()):
        h.update(name.encode() + b"\0" + text.encode() + b"\0")
    return h.hexdigest()


def _abi_key(entry: dict[str, Any]) -> str:
    def typ(i: dict[str, Any]) -> str:
        t = str(i["type"])
        if t.startswith("tuple"):
            return "(" + ",".join(typ(c) for c in i["components"]) + ")" + t[5:]
        return t

    return f"{entry['type']}:{entry.get('name', '')}({','.join(typ(i) for i in entry.get('inputs', []))})"


def combined_abi(contracts: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for name in FACETS:
        for entry in contracts[name]["abi"]:
            if entry["type"] in ("function", "event"):
                seen.setdefault(_abi_key(entry), entry)
    return sorted(seen.values(), key=lambda e: (e["type"], e.get("name", ""), _abi_key(e)))


def compile_all(*, force: bool = False) -> dict[str, Any]:
    """Compile (unless the cached artifacts match the sources) and return the artifacts dict."""
    sources = _sources()
    digest = source_hash(sources)
    if not force and ARTIFACTS.exists():
        cached: dict[str, Any] = json.loads(ARTIFACTS.read_text())
        if cached.get("source_hash") == digest:
            return cached
    if _installed_solc_version() != SOLC_VERSION:
        raise CompileError(f"need solc-js {SOLC_VERSION}, found {_installed_solc_version()}")
    std_input = {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sources.items()},
        "settings": SETTINGS,
    }
    started = time.monotonic()
    proc = subprocess.run(
        ["node", str(HERE / "compile.js")],
        input=json.dumps(std_input),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise CompileError(proc.stderr)
    result = json.loads(proc.stdout)
    output = result["output"]
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompileError("\n".join(str(e.get("formattedMessage", e)) for e in errors))
    contracts: dict[str, dict[str, Any]] = {}
    interface_abi: dict[str, list[dict[str, Any]]] = {}
    for file_contracts in output["contracts"].values():
        for cname, c in file_contracts.items():
            interface_abi[cname] = c["abi"]
            bytecode = c["evm"]["bytecode"]["object"]
            if not bytecode:
                continue  # abstract / interface / library without code
            contracts[cname] = {
                "abi": c["abi"],
                "bytecode": "0x" + bytecode,
                "deployed_size": len(c["evm"]["deployedBytecode"]["object"]) // 2,
            }
    for facet, iface in FALLBACK_ABI.items():
        contracts[facet]["abi"] = [
            e for e in contracts[facet]["abi"] if e["type"] != "fallback"
        ] + interface_abi[iface]
    for name in (*FACETS, "SymmioDiamond", "DevCollateral"):
        if name not in contracts:
            raise CompileError(f"missing contract {name}")
        if contracts[name]["deployed_size"] > EIP170_LIMIT:
            raise CompileError(f"{name} is {contracts[name]['deployed_size']} bytes (> 24 KB)")
    artifacts = {
        "source_hash": digest,
        "compiler": result["version"],
        "settings": SETTINGS,
        "contracts": contracts,
    }
    print(f"solc-js compile took {time.monotonic() - started:.1f}s", file=sys.stderr)
    BUILD.mkdir(parents=True, exist_ok=True)
    ARTIFACTS.write_text(json.dumps(artifacts, indent=1, sort_keys=True) + "\n")
    DIAMOND_ABI.write_text(json.dumps(combined_abi(contracts), indent=1) + "\n")
    return artifacts


def diamond_abi() -> list[dict[str, Any]]:
    compile_all()
    data: list[dict[str, Any]] = json.loads(DIAMOND_ABI.read_text())
    return data


def main() -> int:
    art = compile_all(force="--force" in sys.argv)
    for name, c in sorted(art["contracts"].items()):
        print(f"{name}: {c['deployed_size']} bytes")
    print(f"hash={art['source_hash'][:16]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
