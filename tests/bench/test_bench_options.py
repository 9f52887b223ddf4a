"""`make bench`'s command line: its defaults are `Options`' own, `--quick` shrinks the run."""

from __future__ import annotations

from decimal import Decimal

from bench.run import Options, broker_wallet, parse, risk_limits


def test_no_arguments_give_the_options_defaults() -> None:
    assert parse([]) == Options(floor_rate=min(Options().rates))


def test_quick_and_chosen_rates() -> None:
    quick = parse(["--quick"])
    assert (quick.rates, quick.seconds, quick.positions) == ([2.0], 10.0, 0)
    chosen = parse(["--rates", "3,4", "--seconds", "5"])
    assert (chosen.rates, chosen.seconds, chosen.floor_rate) == ([3.0, 4.0], 5.0, 3.0)


def test_positions_only_memory_run() -> None:
    run = parse(["--positions-only", "--positions", "10000", "--soak", "3600", "--rates", ""])
    assert (run.positions_only, run.positions, run.soak, run.rates) == (True, 10000, 3600.0, [])
    assert run.floor_rate == 0.0


def test_risk_limits_and_broker_wallet_grow_with_the_positions() -> None:
    # the defaults stay for the usual 500 positions
    assert risk_limits(500) == {} and broker_wallet(500) == 100_000
    # 10,000 positions of ~180 USD are over 1 M open interest and 250 k per symbol
    limits = risk_limits(10_000)
    assert Decimal(limits["HEDGER_MAX_OPEN_INTEREST"]) >= 10_000 * 180
    assert Decimal(limits["HEDGER_MAX_NOTIONAL_PER_SYMBOL"]) >= 10_000 * 180
    assert broker_wallet(10_000) >= 10_000 * 180
