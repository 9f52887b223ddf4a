"""Bounds on concurrent websocket connections, per client key and in total (pure logic).

`acquire(key)` takes a slot and answers None, or the reason it refused (nothing taken);
`release(key)` gives the slot back (always call it once per successful acquire, when the
connection ends, however it ends). A client with no open connection is forgotten.
"""

from __future__ import annotations


class ConnectionSlots:
    def __init__(self, per_client: int, total: int) -> None:
        if per_client < 1 or total < 1:
            raise ValueError("per_client >= 1 and total >= 1")
        self.per_client = per_client
        self.total = total
        self._open: dict[str, int] = {}
        self._count = 0

    @property
    def open(self) -> int:
        return self._count

    def open_for(self, key: str) -> int:
        return self._open.get(key, 0)

    def acquire(self, key: str) -> str | None:
        if self._count >= self.total:
            return f"server at its limit of {self.total} websockets, try again later"
        held = self._open.get(key, 0)
        if held >= self.per_client:
            return f"at most {self.per_client} websockets per client, try again later"
        self._open[key] = held + 1
        self._count += 1
        return None

    def release(self, key: str) -> None:
        held = self._open.get(key, 0)
        if held <= 0:
            raise ValueError(f"release without acquire for {key!r}")
        if held == 1:
            del self._open[key]
        else:
            self._open[key] = held - 1
        self._count -= 1
