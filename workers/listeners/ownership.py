"""Client-side filter of events about quotes that are not ours (SYMMIO.md §0: no event parameter
is indexed, so a node cannot filter them: every listener sees every quote of every PartyB).

`domain.routing.route` already drops what names another PartyB (a close request against
another hedger); what it cannot judge are events that carry only a quote id
(`AcceptCancelRequest`, `ExpireQuoteOpen`, `ForceCancelQuote`, …), which it routes as plain
signals, each a Temporal round trip that ends in "no such workflow". `QuoteOwnership` learns,
from the events themselves, the quotes that are certainly not ours — a `SendQuote` whose
whitelist leaves us out (or whose PartyA is us), a `LockQuote` / `OpenPosition` by another
PartyB — and drops the plain-signal targets of those quotes. It never drops a
signal-with-start (routing decided the quote is ours) nor a reorg's removal, and it forgets a
quote when an `UnlockQuote` (or a removal) puts it back in play. Unknown quotes (a listener that
just started) are delivered as before; the set is bounded (oldest forgotten first).
"""

from __future__ import annotations

from collections import OrderedDict

from domain import events as ev
from domain.quote import same_address
from domain.routing import Route, may_take


class QuoteOwnership:
    def __init__(self, our_party_b: str, *, capacity: int = 200_000) -> None:
        self.our_party_b = our_party_b
        self.capacity = capacity
        self._foreign: OrderedDict[int, None] = OrderedDict()

    def __contains__(self, quote_id: int) -> bool:
        return quote_id in self._foreign

    def __len__(self) -> int:
        return len(self._foreign)

    def filter(self, event: ev.SymmioEvent, routes: list[Route]) -> list[Route]:
        """The targets worth a Temporal call (learns from `event` afterwards)."""
        if event.removed:
            self._forget_all(event)
            return routes
        kept = [r for r in routes if r.start or r.quote_id not in self._foreign]
        self._learn(event)
        return kept

    def _learn(self, event: ev.SymmioEvent) -> None:
        if isinstance(event, ev.SendQuote):
            if may_take(event, self.our_party_b):
                self._foreign.pop(event.quote_id, None)
            else:
                self._add(event.quote_id)
        elif isinstance(event, ev.LockQuote | ev.OpenPosition):
            if same_address(event.party_b, self.our_party_b):
                self._foreign.pop(event.quote_id, None)
            else:
                self._add(event.quote_id)
        elif isinstance(event, ev.UnlockQuote):
            self._foreign.pop(event.quote_id, None)

    def _forget_all(self, event: ev.SymmioEvent) -> None:
        quote_id = getattr(event, "quote_id", None)
        if isinstance(quote_id, int):
            self._foreign.pop(quote_id, None)
        for q in getattr(event, "quote_ids", None) or ():
            self._foreign.pop(int(q), None)

    def _add(self, quote_id: int) -> None:
        self._foreign[quote_id] = None
        self._foreign.move_to_end(quote_id)
        while len(self._foreign) > self.capacity:
            self._foreign.popitem(last=False)
