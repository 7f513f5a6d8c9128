"""Correlations, pairwise accuracies (tie calibration, SPA), calibration error and the
bootstrap helper, checked against brute force, scipy and WMT20 en-de system scores."""

import itertools
from pathlib import Path

SHARED = Path(__file__).resolve().parents[3] / "shared"

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefstats.bootstrap import bootstrap_ci
from prefstats.calibration import (
    calibration_curve,
    expected_calibration_error,
    outcome_score,
)
from prefstats.correlation import darr_pairs, kendall_tau, pearson, wmt_tau_like
from prefstats.pairwise import (
    pairwise_accuracy,
    permutation_pvalues,
    soft_pairwise_accuracy,
    spa,
    tie_calibrated_accuracy,
)

# ---------------------------------------------------------------- correlations


def brute_kendall(x, y, variant):
    """O(n^2) definition: concordant minus discordant over all pairs, tie-corrected."""
    n = len(x)
    s = tx = ty = 0
    for a, b in itertools.combinations(range(n), 2):
        dx, dy = np.sign(x[a] - x[b]), np.sign(y[a] - y[b])
        s += dx * dy
        tx += dx == 0
        ty += dy == 0
    n0 = n * (n - 1) / 2
    if variant == "b":
        denom = np.sqrt((n0 - tx) * (n0 - ty))
        return s / denom if denom else np.nan
    m = min(len(set(x)), len(set(y)))
    return 2 * s / (n * n * (m - 1) / m) if m > 1 else np.nan


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 6)), min_size=2, max_size=40))
def test_kendall_matches_brute_force(pairs):
    x = np.array([p[0] for p in pairs], dtype=float)
    y = np.array([p[1] for p in pairs], dtype=float)
    for variant in "bc":
        ref = brute_kendall(x, y, variant)
        ours = kendall_tau(x, y, variant)
        if np.isnan(ref):
            assert np.isnan(ours)
        else:
            assert ours == pytest.approx(ref, abs=1e-12)


def test_kendall_matches_scipy_on_large_data():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    x = rng.normal(size=50_000)
    y = np.round(x + rng.normal(size=x.size), 1)  # many ties in y
    for variant in "bc":
        ref = stats.kendalltau(x, y, variant=variant).statistic
        assert kendall_tau(x, y, variant) == pytest.approx(ref, abs=1e-12)


def test_pearson_matches_numpy():
    rng = np.random.default_rng(1)
    x = rng.normal(size=100)
    y = 0.3 * x + rng.normal(size=100)
    assert pearson(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1], abs=1e-14)
    assert np.isnan(pearson(x, np.ones(100)))


def test_wmt_tau_like_and_darr_pairs():
    # one source, four outputs with human DA scores; pairs need a > 25 point gap
    group = np.array([0, 0, 0, 0])
    human = np.array([90.0, 60.0, 50.0, 10.0])
    better, worse = darr_pairs(group, human, min_diff=25.0)
    got = sorted(zip(better.tolist(), worse.tolist()))
    assert got == [(0, 1), (0, 2), (0, 3), (1, 3), (2, 3)]
    metric = np.array([0.9, 0.5, 0.5, 0.6])
    # (0,1) C, (0,2) C, (0,3) C, (1,3) D, (2,3) D
    assert wmt_tau_like(metric[better], metric[worse]) == pytest.approx((3 - 2) / 5)
    metric_tie = np.array([0.9, 0.5, 0.5, 0.5])  # (1,3), (2,3) metric ties
    assert wmt_tau_like(metric_tie[better], metric_tie[worse]) == pytest.approx((3 - 2) / 5)
    assert wmt_tau_like(metric_tie[better], metric_tie[worse], ties_discordant=False) == 1.0


# ---------------------------------------------------------------- pairwise accuracy


def brute_acc_eq(h, m, eps):
    correct = total = 0
    for a, b in itertools.combinations(range(len(h)), 2):
        sh = np.sign(h[a] - h[b])
        sm = 0 if abs(m[a] - m[b]) < eps else np.sign(m[a] - m[b])
        correct += sh == sm
        total += 1
    return correct / total


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3), st.floats(-2, 2, allow_nan=False)), min_size=2, max_size=15)
)
def test_tie_calibration_finds_the_best_epsilon(rows):
    h = np.array([r[0] for r in rows], dtype=float)
    m = np.round(np.array([r[1] for r in rows]), 2)
    res = tie_calibrated_accuracy(h, m)
    # applying the returned epsilon reproduces the accuracy ...
    assert brute_acc_eq(h, m, res.epsilon) == pytest.approx(res.accuracy)
    # ... and no other epsilon (all |diff| values, midpoints, beyond the max) does better
    diffs = np.unique(np.abs(np.subtract.outer(m, m)))
    candidates = np.concatenate([[0.0], diffs, diffs + 1e-9, (diffs[:-1] + diffs[1:]) / 2, [diffs.max() + 1]])
    best = max(brute_acc_eq(h, m, e) for e in candidates)
    assert res.accuracy == pytest.approx(best)


def test_tie_calibration_by_hand_and_grouping():
    h = np.array([1.0, 1.0, 2.0])
    m = np.array([0.50, 0.52, 0.90])
    # pairs: (0,1) human tie, |dm| .02; (0,2) and (1,2) human and metric agree, |dm| .4/.38
    res = tie_calibrated_accuracy(h, m)
    assert res.accuracy == 1.0 and 0.02 < res.epsilon < 0.38 and res.n_pairs == 3
    assert tie_calibrated_accuracy(h, np.array([0.5, 0.6, 0.9])).accuracy == 1.0
    # grouping: group A has 1 pair (wrong), group B 3 pairs (all right)
    h2 = np.array([1.0, 2.0, 1.0, 2.0, 3.0])
    m2 = np.array([2.0, 1.0, 1.0, 2.0, 3.0])
    g = np.array(["A", "A", "B", "B", "B"])
    assert tie_calibrated_accuracy(h2, m2, g, "group").accuracy == pytest.approx(0.5)
    assert tie_calibrated_accuracy(h2, m2, g, "pair").accuracy == pytest.approx(0.75)


def test_pairwise_accuracy():
    h = np.array([1.0, 2.0, 3.0, 3.0])
    m = np.array([1.0, 3.0, 2.0, 5.0])
    # strict human pairs: (0,1) ok, (0,2) ok, (0,3) ok, (1,2) wrong, (1,3) ok; (2,3) tied
    assert pairwise_accuracy(h, m) == pytest.approx(4 / 5)


def exact_pvalue(x, y):
    """Enumerate all 2^S sign flips: P(mean(flipped d) >= mean(d))."""
    d = x - y
    flips = np.array(list(itertools.product([-1, 1], repeat=d.size)))
    return np.mean(flips @ d >= d.sum() - 1e-12)


def test_permutation_pvalues_match_exact_enumeration():
    rng = np.random.default_rng(2)
    seg = rng.normal(size=(3, 10)) + np.array([[0.0], [0.3], [0.8]])
    p = permutation_pvalues(seg, np.random.default_rng(3), n_resamples=20_000)
    for a, b in itertools.permutations(range(3), 2):
        assert p[a, b] == pytest.approx(exact_pvalue(seg[a], seg[b]), abs=0.015)
    assert np.isnan(np.diag(p)).all()


def test_spa_properties():
    rng = np.random.default_rng(4)
    human = rng.normal(size=(6, 80)) + np.linspace(0, 0.6, 6)[:, None]
    # a metric that is an increasing affine function of human segment scores has the
    # same permutation p-values under the same flips: SPA = 1
    assert spa(human, 2 * human + 3, np.random.default_rng(5), 500) == pytest.approx(1.0)
    reversed_ = spa(human, -human, np.random.default_rng(5), 500)
    noisy = spa(human, human + rng.normal(scale=1.0, size=human.shape), np.random.default_rng(5), 500)
    assert 0 <= reversed_ < noisy < 1
    ph = permutation_pvalues(human, np.random.default_rng(6), 300)
    assert soft_pairwise_accuracy(ph, ph) == 1.0
    assert soft_pairwise_accuracy(ph, 1 - ph) == pytest.approx(
        np.mean([1 - abs(2 * ph[a, b] - 1) for a, b in itertools.combinations(range(6), 2)])
    )


# ---------------------------------------------------------------- calibration


def test_ece_by_hand():
    prob = np.array([0.05, 0.15, 0.15, 0.95, 1.0])
    obs = np.array([0.0, 1.0, 0.0, 1.0, 1.0])
    cal = calibration_curve(prob, obs, n_bins=10)
    # bins: [0,.1): .05 vs 0; [.1,.2): .15 vs .5; [.9,1]: .975 vs 1
    expected = (1 * 0.05 + 2 * 0.35 + 2 * 0.025) / 5
    assert cal.ece == pytest.approx(expected)
    np.testing.assert_array_equal(cal.weight, [1, 2, 0, 0, 0, 0, 0, 0, 0, 2])
    assert np.isnan(cal.confidence[5]) and cal.observed[1] == 0.5
    # bins are [lo, hi): 0.06 shares bin 0 with 0.04, 0.1 starts bin 1
    edge = calibration_curve(np.array([0.04, 0.06, 0.1]), np.array([0.0, 0.0, 1.0]), 10)
    np.testing.assert_array_equal(edge.weight[:3], [2, 1, 0])


def test_ece_calibrated_vs_overconfident():
    rng = np.random.default_rng(7)
    p = rng.uniform(size=100_000)
    y = (rng.uniform(size=p.size) < p).astype(float)
    assert expected_calibration_error(p, y) < 0.01
    assert expected_calibration_error(np.full(1000, 0.9), np.r_[np.ones(600), np.zeros(400)]) == pytest.approx(0.3)


def test_ece_ternary_outcomes_and_weights():
    y = outcome_score(np.array([1, 2, 0, 0]))
    np.testing.assert_array_equal(y, [1.0, 0.0, 0.5, 0.5])
    p = np.array([0.7, 0.2, 0.55, 0.4])
    w = np.array([2, 1, 3, 1])
    weighted = expected_calibration_error(p, y, 5, weights=w)
    repeated = expected_calibration_error(np.repeat(p, w), np.repeat(y, w), 5)
    assert weighted == pytest.approx(repeated)


# ---------------------------------------------------------------- bootstrap


def test_bootstrap_ci_mean_and_clusters():
    rng = np.random.default_rng(8)
    x = rng.normal(loc=1.0, size=2000)
    ci = bootstrap_ci(np.mean, (x,), np.random.default_rng(9), n_boot=500)
    se = x.std(ddof=1) / np.sqrt(x.size)
    assert ci.low < 1.0 < ci.high
    assert ci.high - ci.low == pytest.approx(2 * 1.96 * se, rel=0.15)
    again = bootstrap_ci(np.mean, (x,), np.random.default_rng(9), n_boot=500)
    assert (again.low, again.high) == (ci.low, ci.high)
    # strongly clustered data: cluster bootstrap must be much wider than row bootstrap
    cluster = np.repeat(np.arange(20), 100)
    y = rng.normal(size=20)[cluster] + 0.1 * rng.normal(size=cluster.size)
    rows = bootstrap_ci(np.mean, (y,), np.random.default_rng(1), n_boot=300)
    clus = bootstrap_ci(np.mean, (y,), np.random.default_rng(1), n_boot=300, cluster=cluster)
    assert (clus.high - clus.low) > 4 * (rows.high - rows.low)
    paired = bootstrap_ci(pearson, (x, 2 * x + 1), np.random.default_rng(2), n_boot=50)
    assert paired.low == pytest.approx(1.0) and paired.high == pytest.approx(1.0)


# ---------------------------------------------------------------- real data: WMT20


@pytest.fixture(scope="module")
def wmt20():
    path = SHARED / "data" / "wmt20-metrics" / "DA-newstest2020-ende-sys-scores.csv"
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (fresh clone without the sibling ../shared)")
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(" ")
    rows = [line.split(" ") for line in lines[1:]]  # split(" ") keeps empty cells
    assert all(len(r) == len(header) for r in rows)
    return header, rows


def test_wmt20_system_level_pearson(wmt20):
    header, rows = wmt20
    mt = [r for r in rows if not r[1].startswith("Human-")]
    assert len(mt) == 14
    human = np.array([float(r[header.index("HUMAN")]) for r in mt])
    metrics = header[4:]
    results = {}
    for name in metrics:
        col = header.index(name)
        cells = [r[col] for r in mt]
        assert all(c != "" for c in cells), name  # only Human-A.0 has empty cells
        score = np.array([float(c) for c in cells])
        r = pearson(human, score)
        assert np.isfinite(r), name
        assert r == pytest.approx(np.corrcoef(human, score)[0, 1], abs=1e-12), name
        tau = kendall_tau(human, score)
        assert -1 <= tau <= 1
        results[name] = r
    for name in ("BLEU", "chrF", "COMET"):
        assert 0.5 < results[name] <= 1.0, (name, results[name])
    # human translations have empty metric cells for the reference (Human-A.0)
    ref_row = next(r for r in rows if r[1] == "Human-A.0")
    assert ref_row[header.index("BLEU")] == ""
