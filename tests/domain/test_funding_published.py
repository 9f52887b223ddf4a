"""What the front-end is shown of funding is what FundingWorkflow charges (pure rules)."""

from __future__ import annotations

from decimal import Decimal

import pytest


def test_the_front_end_is_shown_what_the_funding_workflow_charges() -> None:
    from domain.markets import charged_funding_sides

    hours = 3600
    # same interval as the epoch: the broker's rate, a LONG shown paying (negative)
    assert charged_funding_sides(Decimal("0.0003"), 8 * hours, 8 * hours) == (
        Decimal("-0.0003"),
        Decimal("0.0003"),
    )
    # a 4-h broker rate over an 8-h epoch counts twice; the spread is kept on both sides
    assert charged_funding_sides(
        Decimal("0.0002"), 4 * hours, 8 * hours, spread=Decimal("0.0001")
    ) == (Decimal("-0.0005"), Decimal("0.0003"))
    # before the contract's epoch is known: the broker's rate as it is
    assert charged_funding_sides(Decimal("0.0002"), 4 * hours, 0) == (
        Decimal("-0.0002"),
        Decimal("0.0002"),
    )


def test_listed_interval_and_the_next_epoch_boundary() -> None:
    from domain.funding import listed_interval, next_epoch_boundary

    assert listed_interval({"interval": "4h"}, 28800) == 14400
    assert listed_interval({"info": {"fundingIntervalHours": 1}}, 28800) == 3600
    assert listed_interval(None, 28800) == 28800
    with pytest.raises(ValueError):
        listed_interval({"interval": "soon"}, 28800)
    assert next_epoch_boundary(28800, 28800) == 57600  # on a boundary: the next one
    assert next_epoch_boundary(28801, 28800) == 57600
    with pytest.raises(ValueError):
        next_epoch_boundary(1, 0)
