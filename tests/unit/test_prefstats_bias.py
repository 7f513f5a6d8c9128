"""Bias diagnostics and the binomial machinery under them."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefstats.bias import (
    agreement_with_majority,
    drift,
    length_bias,
    length_controlled_bt,
    position_bias,
    swap_flip_rate,
)
from prefstats.bt import expected_win_rate
from prefstats.proportions import binom_test, wilson_interval


def brute_binom_two_sided(k, n, p):
    pmf = [math.comb(n, x) * p**x * (1 - p) ** (n - x) for x in range(n + 1)]
    return min(1.0, sum(q for q in pmf if q <= pmf[k] * (1 + 1e-7)))


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 120).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
       st.sampled_from([0.5, 0.3, 0.77]))
def test_binom_test_matches_exact_sum(kn, p):
    k, n = kn
    assert binom_test(k, n, p) == pytest.approx(brute_binom_two_sided(k, n, p), rel=1e-9, abs=1e-300)


def test_binom_test_matches_scipy_and_published_values():
    # R: binom.test(3, 10)$p.value = 0.34375; binom.test(682, 925, p=0.75) = 0.3825
    assert binom_test(3, 10) == pytest.approx(0.34375)
    assert binom_test(682, 925, 0.75) == pytest.approx(0.3825, abs=1e-4)
    stats = pytest.importorskip("scipy.stats")
    for k, n, p in [(4800, 10_000, 0.5), (120, 1000, 0.1), (0, 50, 0.5)]:
        assert binom_test(k, n, p) == pytest.approx(stats.binomtest(k, n, p).pvalue, rel=1e-8)


def test_wilson_interval_textbook_and_scipy():
    low, high = wilson_interval(np.array([3, 0, 10, 0]), np.array([10, 10, 10, 0]))
    # Newcombe (1998) / textbook: 3/10 -> (0.1078, 0.6032); 0/10 -> (0, 0.2775)
    assert low[0] == pytest.approx(0.1078, abs=1e-4) and high[0] == pytest.approx(0.6032, abs=1e-4)
    assert low[1] == 0.0 and high[1] == pytest.approx(0.2775, abs=1e-4)
    assert high[2] == 1.0 and np.isnan(low[3])
    stats = pytest.importorskip("scipy.stats")
    ci = stats.binomtest(37, 80).proportion_ci(0.95, method="wilson")
    lo, hi = wilson_interval(np.array([37]), np.array([80]))
    assert (lo[0], hi[0]) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_position_bias_overall_and_per_annotator():
    ann = np.array(["a"] * 10 + ["b"] * 6)
    outcome = np.array([1] * 8 + [2] * 1 + [0] + [1, 2, 1, 2, 0, 0])
    overall = position_bias(outcome)
    assert overall.successes[0] == 10 and overall.trials[0] == 13
    assert overall.p_value[0] == pytest.approx(binom_test(10, 13))
    per = position_bias(outcome, ann)
    assert list(per.groups) == ["a", "b"]
    np.testing.assert_array_equal(per.successes, [8, 2])
    np.testing.assert_array_equal(per.trials, [9, 4])
    assert per.rate[0] == pytest.approx(8 / 9)
    assert per.low[0] < 8 / 9 < per.high[0]
    assert per.p_value[1] == 1.0


def test_position_bias_detects_simulated_bias():
    rng = np.random.default_rng(0)
    outcome = np.where(rng.uniform(size=2000) < 0.6, 1, 2)
    res = position_bias(outcome)
    assert res.low[0] < 0.6 < res.high[0] and res.p_value[0] < 1e-10


def test_swap_flip_rate():
    # annotator x judged pair (1, 2) in both orders three times; y follows position
    ann = np.array(["x", "x", "x", "y", "y", "y", "y"])
    first = np.array([1, 2, 2, 1, 2, 5, 6])
    second = np.array([2, 1, 1, 2, 1, 6, 5])
    outcome = np.array([1, 2, 1, 1, 1, 1, 0])
    # x: order (1,2) -> 1 wins; order (2,1): 1 wins (consistent), 2 wins (flip) -> 1/2
    # y: (1,2) -> 1 wins, (2,1) -> 2 wins: flip 1/1; pair (5,6) has a tie: not counted
    per = swap_flip_rate(ann, first, second, outcome, by_annotator=True)
    np.testing.assert_array_equal(per.successes, [1, 1])
    np.testing.assert_array_equal(per.trials, [2, 1])
    total = swap_flip_rate(ann, first, second, outcome)
    assert total.rate[0] == pytest.approx(2 / 3) and np.isnan(total.p_value[0])


def test_length_bias():
    l1 = np.array([10, 20, 30, 5, 5, 7])
    l2 = np.array([20, 10, 10, 9, 5, 1])
    outcome = np.array([2, 1, 1, 1, 1, 0])
    # decisive with unequal length: rows 0-3 -> longer won in 0, 1, 2; not in 3
    res = length_bias(l1, l2, outcome)
    assert res.successes[0] == 3 and res.trials[0] == 4


def test_length_controlled_bt_removes_a_pure_length_effect():
    rng = np.random.default_rng(1)
    k, n = 4, 40_000
    verbosity = np.array([100.0, 200.0, 400.0, 800.0])  # equal quality, different length
    i = rng.integers(0, k, n)
    j = (i + rng.integers(1, k, n)) % k
    li = verbosity[i] * rng.uniform(0.8, 1.2, n)
    lj = verbosity[j] * rng.uniform(0.8, 1.2, n)
    x = (li - lj) / (li + lj)
    p_i = 1 / (1 + np.exp(-1.5 * x))
    y = np.where(rng.uniform(size=n) < p_i, 1, 2)
    res = length_controlled_bt(i, j, y, li, lj, k)
    assert np.ptp(res.raw.scores) > 0.5  # raw ranking rewards length
    assert np.abs(res.controlled.scores).max() < 0.06  # controlled: all equal
    assert res.controlled.coef[0] == pytest.approx(1.5, abs=0.1)
    np.testing.assert_allclose(expected_win_rate(res.controlled), 0.5, atol=0.02)


def test_agreement_with_majority_leave_one_out():
    unit = np.array([1, 1, 1, 2, 2, 3, 3, 3, 3])
    label = np.array([0, 0, 1, 1, 2, 1, 1, 2, 2])
    got = agreement_with_majority(unit, label)
    # unit 1: first two see majority {0:1,1:1} -> none; third sees {0:2} -> disagrees
    # unit 2: each sees one other -> that is the majority; both disagree
    # unit 3: a '1' sees {1:1,2:2} -> disagrees; a '2' sees {1:2,2:1} -> disagrees
    expected = [np.nan, np.nan, 0, 0, 0, 0, 0, 0, 0]
    np.testing.assert_array_equal(got, expected)
    single = agreement_with_majority(np.array([7]), np.array([1]))
    assert np.isnan(single[0])


def test_drift_windows_follow_each_annotators_own_order():
    ann = np.array(["a"] * 6 + ["b"] * 3)
    order = np.array([6, 5, 4, 3, 2, 1, 30, 10, 20])
    value = np.array([1, 1, 1, 0, 0, np.nan, 1, 0, 1], dtype=float)
    d = drift(ann, order, value, window=2)
    # a sorted by time: values nan, 0, 0, 1, 1, 1 -> windows [nan,0], [0,1], [1,1]
    np.testing.assert_allclose(d.mean[0], [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(d.count[0], [1, 2, 2])
    # b sorted: 0, 1, 1 -> [0,1], [1], empty
    np.testing.assert_allclose(d.mean[1], [0.5, 1.0, np.nan])
