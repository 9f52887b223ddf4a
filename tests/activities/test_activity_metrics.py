"""The counters the alert rules read move when the thing they count happens."""

from __future__ import annotations

from prometheus_client import REGISTRY

from activities.broker_errors import to_application_error
from activities.chain import ChainActivities
from adapters.broker.errors import BrokerError
from adapters.chain.errors import TxReverted


def _value(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_final_revert_counts_and_a_retried_one_counts_apart() -> None:
    final = _value("hedger_chain_tx_reverts_total", {"retry": "final"})
    error = ChainActivities._revert_error(TxReverted("LibQuote: Invalid state", "0xabc"))
    assert error.non_retryable
    assert _value("hedger_chain_tx_reverts_total", {"retry": "final"}) == final + 1


def test_each_broker_error_counts_by_kind() -> None:
    before = _value("hedger_broker_errors_total", {"kind": "RateLimited"})
    to_application_error(BrokerError("RateLimited", "slow down", retryable=True, retry_after=1))
    assert _value("hedger_broker_errors_total", {"kind": "RateLimited"}) == before + 1
