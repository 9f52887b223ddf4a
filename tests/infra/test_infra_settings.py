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


def test_the_broker_queue_rate_is_a_setting_the_worker_uses() -> None:
    import pytest
    from pydantic import ValidationError

    from activities.broker import BrokerActivities

    assert Settings(_env_file=None).broker_activities_per_second == 40.0  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        Settings(_env_file=None, broker_activities_per_second=0)  # type: ignore[call-arg]
    options = BrokerActivities(adapter=None, activities_per_second=25.0).worker_options()  # type: ignore[arg-type]
    assert options["max_task_queue_activities_per_second"] == 25.0
