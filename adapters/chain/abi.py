"""The SYMMIO diamond's combined ABI (every facet behind one address), as the hedger uses it.

Loaded from `adapters/chain/abi/symmio.json` (generated from the contract sources; a JSON list of
ABI entries, or an object with an ``"abi"`` list). Production code never imports `devnet`.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from eth_utils.abi import function_abi_to_4byte_selector

ABI_PATH = Path(__file__).with_name("abi") / "symmio.json"

AbiEntry = dict[str, Any]


class AbiMissing(FileNotFoundError):
    """The diamond ABI file is absent (run the contract build / `hedger devnet deploy`)."""


def load_abi(path: Path | None = None) -> list[AbiEntry]:
    """The ABI entries from `path` (default: the packaged `symmio.json`)."""
    source = path or ABI_PATH
    if not source.exists():
        raise AbiMissing(f"SYMMIO ABI not found at {source}")
    data = json.loads(source.read_text())
    entries = data["abi"] if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise ValueError(f"{source}: expected a list of ABI entries")
    return entries


@lru_cache(maxsize=1)
def symmio_abi() -> tuple[AbiEntry, ...]:
    """The packaged diamond ABI (cached)."""
    return tuple(load_abi())


def error_selectors(abi: list[AbiEntry] | tuple[AbiEntry, ...]) -> dict[bytes, AbiEntry]:
    """4-byte selector → `error` ABI entry, for decoding custom-error revert data."""
    out: dict[bytes, AbiEntry] = {}
    for entry in abi:
        if entry.get("type") == "error":
            out[bytes(function_abi_to_4byte_selector(entry))] = entry  # type: ignore[arg-type]
    return out


def function_names(abi: list[AbiEntry] | tuple[AbiEntry, ...]) -> set[str]:
    return {str(e["name"]) for e in abi if e.get("type") == "function"}
