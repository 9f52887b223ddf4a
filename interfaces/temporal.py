"""Temporal names every process agrees on: task queues and the search attributes operators filter on.

Pure constants (no connection): workflows, workers, listeners, the API and the set-up code
(`adapters.temporal.setup_temporal`, which registers the attributes) all read them from here.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey


class TaskQueues:
    WORKFLOWS = "hedger-workflows"
    # the risk-control workflow alone, on its own worker: thousands of intent and position
    # workflows must never take its cache place or its workflow-task slots
    RISK = "hedger-risk"
    CHAIN = "hedger-chain"
    BROKER = "hedger-broker"
    OPS = "hedger-ops"


class SearchAttributes:
    """Custom search attributes on every intent/position workflow (DESIGN §6)."""

    QUOTE_ID = SearchAttributeKey.for_int("QuoteId")
    SYMBOL = SearchAttributeKey.for_keyword("Symbol")
    PARTY_A = SearchAttributeKey.for_keyword("PartyA")
    PARTY_B = SearchAttributeKey.for_keyword("PartyB")
    HEDGE_STATUS = SearchAttributeKey.for_keyword("HedgeStatus")
