"""Early-stopping rules on hand-made learning curves: when they stop, when they must not, and bad options."""

from __future__ import annotations

import math

import pytest

from nasforge.errors import ConfigError, UnknownNameError
from nasforge.estimation.stopping import CurveExtrapolation, MedianStopping, StopCheck, make_stopper

# five completed curves of four steps, rising; their best-so-far medians are 0.5, 0.6, 0.7, 0.8
PEERS = [[0.3 + 0.1 * i + 0.1 * t for t in range(4)] for i in range(5)]


def test_median_stops_below_the_median_and_not_above() -> None:
    rule = MedianStopping(min_trials=5)
    assert rule.should_stop([0.45], PEERS)
    assert not rule.should_stop([0.55], PEERS)
    # the best so far counts, not the last value: a dip after a good epoch is not punished
    assert not rule.should_stop([0.65, 0.2], PEERS)
    assert rule.should_stop([0.5, 0.55], PEERS)


def test_median_waits_for_enough_peers_and_min_step() -> None:
    assert not MedianStopping(min_trials=6).should_stop([0.0], PEERS)
    assert not MedianStopping(min_trials=5, min_step=2).should_stop([0.0], PEERS)
    assert MedianStopping(min_trials=5, min_step=2).should_stop([0.0, 0.0], PEERS)


def test_no_stop_at_the_peers_last_step() -> None:
    # the peers ran 4 steps: stopping at step 4 saves nothing, and peers must have run beyond the step
    assert not MedianStopping(min_trials=1).should_stop([0.0] * 4, PEERS)
    short = [[0.9]] * 5
    assert not MedianStopping(min_trials=1).should_stop([0.0], short)


def test_percentile_moves_the_bar() -> None:
    assert MedianStopping(min_trials=5, percentile=90).should_stop([0.65], PEERS)
    assert not MedianStopping(min_trials=5, percentile=10).should_stop([0.45], PEERS)


def test_a_non_finite_score_stops() -> None:
    assert MedianStopping(min_trials=5).should_stop([math.nan], PEERS)


def test_extrapolation_stops_a_hopeless_curve_and_spares_a_promising_one() -> None:
    # peers: final score grows with the value at step 2, with a little noise
    peers = [[0.1 * i, 0.2 + 0.1 * i, 0.4 + 0.1 * i + 0.01 * (-1) ** i, 0.5 + 0.1 * i] for i in range(8)]
    rule = CurveExtrapolation(min_trials=5)
    assert rule.should_stop([0.0, 0.1], peers)  # far below every peer at step 2
    assert not rule.should_stop([0.7, 0.95], peers)  # above the best peer at step 2: may win
    assert not CurveExtrapolation(min_trials=9).should_stop([0.0, 0.1], peers)


def test_extrapolation_is_cautious_with_noisy_peers() -> None:
    # final scores unrelated to early ones: the interval is wide, so a low start is not enough to stop
    peers = [[0.1 * i, 0.1 * i, 0.1 * i, [0.9, 0.2, 0.8, 0.3, 0.7, 0.1][i]] for i in range(6)]
    assert not CurveExtrapolation(min_trials=5).should_stop([0.2], peers)


def test_make_stopper_specs_and_errors() -> None:
    assert make_stopper(None) is None
    assert make_stopper("median") == MedianStopping()
    assert make_stopper({"name": "extrapolate", "z": 3.0}) == CurveExtrapolation(z=3.0)
    rule = MedianStopping(min_trials=2)
    assert make_stopper(rule) is rule
    with pytest.raises(UnknownNameError, match="median"):
        make_stopper("medain")
    with pytest.raises(ConfigError, match="valid"):
        make_stopper({"name": "median", "patience": 3})
    with pytest.raises(ConfigError, match="mapping with `name`"):
        make_stopper(3)
    with pytest.raises(ConfigError, match="min_trials"):
        MedianStopping(min_trials=0)
    with pytest.raises(ConfigError, match="percentile"):
        MedianStopping(percentile=100)
    with pytest.raises(ConfigError, match="z"):
        CurveExtrapolation(z=-1.0)


def test_stop_check_applies_the_objective_sign() -> None:
    # minimising val_loss: the peers' curves are scores (the experiment negates their losses), reports are raw
    check = StopCheck(MedianStopping(min_trials=5), "val_loss", -1.0, tuple(tuple(p) for p in PEERS))
    assert check([{"val_loss": 0.45}]) is True  # score -0.45: below the median 0.5
    assert check([{"val_loss": -0.55}]) is False  # score 0.55
    assert check([{"other": 1.0}]) is False  # a report without the metric is not judged
    assert check([]) is False
