"""`make bench`'s command line: its defaults are `Options`' own, `--quick` shrinks the run."""

from __future__ import annotations

from bench.run import Options, parse


def test_no_arguments_give_the_options_defaults() -> None:
    assert parse([]) == Options(floor_rate=min(Options().rates))


def test_quick_and_chosen_rates() -> None:
    quick = parse(["--quick"])
    assert (quick.rates, quick.seconds, quick.positions) == ([2.0], 10.0, 0)
    chosen = parse(["--rates", "3,4", "--seconds", "5"])
    assert (chosen.rates, chosen.seconds, chosen.floor_rate) == ([3.0, 4.0], 5.0, 3.0)
