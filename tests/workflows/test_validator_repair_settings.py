"""The validator's auto-repair classes are checked when the ops worker builds its schedule."""

from __future__ import annotations

import pytest

from config.settings import load_settings
from workers.validator import repair_classes, validator_schedule


def test_only_classes_with_a_repair_are_accepted() -> None:
    assert repair_classes(load_settings()) == []  # off by default
    enabled = load_settings(validator_auto_repair="orphan_broker_order")
    assert repair_classes(enabled) == ["orphan_broker_order"]
    with pytest.raises(ValueError, match="no repair for \\['missing_on_broker'\\]"):
        validator_schedule(load_settings(validator_auto_repair="missing_on_broker"))
