"""Production settings the infra files rely on: the metrics bind address and the broker's real URLs."""

from __future__ import annotations

from adapters.broker.client import BrokerConfig
from config.settings import Settings


def test_empty_broker_urls_mean_the_exchange_s_own() -> None:
    empty = Settings(_env_file=None, broker_rest_url="", broker_ws_url="")  # type: ignore[call-arg]
    config = BrokerConfig.from_settings(empty)
    assert config.rest_url is None and config.ws_url is None
    chosen = Settings(_env_file=None, broker_rest_url="http://sim:1", broker_ws_url="ws://sim:1")  # type: ignore[call-arg]
    assert BrokerConfig.from_settings(chosen).rest_url == "http://sim:1"


def test_metrics_bind_address_is_a_setting() -> None:
    assert Settings(_env_file=None, metrics_host="0.0.0.0").metrics_host == "0.0.0.0"  # type: ignore[call-arg]
    assert Settings.model_fields["metrics_host"].default == "127.0.0.1"
