"""Calldata and return data of the diamond's functions, straight from the ABI with eth_abi.

web3's contract objects look a function up among the diamond's ~200 ABI entries, validate and
normalise on every call: about 3 ms per encode on an idle machine, tens of ms under load, paid
in the chain worker for every view and transaction. `AbiCodec` prepares each function once
(selector, argument and result types) and encodes / decodes with eth_abi, returning what web3
returns (checksummed addresses, lists for arrays, tuples for structs, one result unwrapped).
An overloaded or unknown name has no entry (`None`): the caller goes through web3.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode, encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from adapters.chain.abi import AbiEntry


def abi_type(param: dict[str, Any]) -> str:
    """The canonical type of an ABI parameter: a tuple's components spelled out."""
    kind = str(param["type"])
    if not kind.startswith("tuple"):
        return kind
    inner = ",".join(abi_type(c) for c in param.get("components", []))
    return f"({inner}){kind[len('tuple') :]}"


@dataclass(frozen=True, slots=True)
class PreparedFunction:
    name: str
    selector: bytes
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    def encode(self, args: Sequence[Any]) -> bytes:
        return self.selector + encode(list(self.inputs), list(args))

    def decode(self, data: bytes) -> Any:
        values = decode(list(self.outputs), data)
        normalised = [_web3_like(t, v) for t, v in zip(self.outputs, values, strict=True)]
        if len(normalised) == 1:
            return normalised[0]
        return normalised


class AbiCodec:
    def __init__(self, entries: Iterable[AbiEntry]) -> None:
        by_name: dict[str, list[dict[str, Any]]] = {}
        for entry in entries:
            if entry.get("type") == "function":
                by_name.setdefault(str(entry["name"]), []).append(dict(entry))
        self._functions: dict[str, PreparedFunction] = {}
        for name, found in by_name.items():
            if len(found) != 1:
                continue  # overloaded: web3 resolves it by the arguments
            (entry,) = found
            inputs = tuple(abi_type(p) for p in entry.get("inputs", []))
            outputs = tuple(abi_type(p) for p in entry.get("outputs", []))
            selector = keccak(text=f"{name}({','.join(inputs)})")[:4]
            self._functions[name] = PreparedFunction(name, selector, inputs, outputs)

    def function(self, name: str) -> PreparedFunction | None:
        return self._functions.get(name)


def _web3_like(kind: str, value: Any) -> Any:
    """eth_abi's value as web3's contract call returns it."""
    if kind.endswith("]"):
        element = kind[: kind.rindex("[")]
        return [_web3_like(element, v) for v in value]
    if kind.startswith("("):
        return tuple(_web3_like(t, v) for t, v in zip(_split_tuple(kind), value, strict=True))
    if kind == "address":
        return to_checksum_address(value)
    return value


def _split_tuple(kind: str) -> list[str]:
    """The component types of "(t1,(t2,t3),t4[])"."""
    inner, parts, depth, start = kind[1:-1], [], 0, 0
    for i, ch in enumerate(inner):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(inner[start:i])
            start = i + 1
    if inner:
        parts.append(inner[start:])
    return parts
