"""An idle OPENED position's recheck interval: short at first, doubling while quiet, capped."""

from __future__ import annotations

from domain.position_path import idle_recheck_seconds


def test_the_first_recheck_is_the_base_then_it_doubles_up_to_the_cap() -> None:
    waits = [idle_recheck_seconds(n, 30.0, 600.0) for n in range(0, 8)]
    assert waits == [30.0, 30.0, 60.0, 120.0, 240.0, 480.0, 600.0, 600.0]


def test_a_very_long_quiet_spell_stays_at_the_cap() -> None:
    assert idle_recheck_seconds(10_000, 30.0, 600.0) == 600.0
