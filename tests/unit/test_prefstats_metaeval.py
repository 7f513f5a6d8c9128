"""prefstats.metaeval: weighted tie calibration, orientation-free pair Kendall, per-unit
agreement counts, leave-one-rater-out ceilings, rater-pair kappas, reliability matrices and
bootstrap helpers, each checked against a brute-force or an existing prefstats function."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefstats.agreement import cohen_kappa, krippendorff_alpha, pairwise_agreement
from prefstats.bt import bootstrap_bt
from prefstats.correlation import kendall_tau, pearson
from prefstats.metaeval import (
    agreement_counts,
    bootstrap_bt_cells,
    cluster_bootstrap_means,
    kendall_few_levels,
    leave_one_rater_out_pairs,
    pair_kendall,
    preference_probability,
    pvalues_from_samples,
    rater_pair_kappas,
    reliability_matrix,
    replicate_interval,
    tie_calibrated_pair_accuracy,
    within_group_pairs,
)
from prefstats.pairwise import tie_calibrated_accuracy

outcomes = st.lists(st.tuples(st.sampled_from([-1, 0, 1]), st.integers(-3, 3)), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(outcomes)
def test_pair_accuracy_equals_tie_calibrated_accuracy_on_two_row_groups(rows):
    human = np.array([h for h, _ in rows], dtype=float)
    diff = np.array([d for _, d in rows], dtype=float) / 2.0
    # every pair becomes a group of two rows: first (human score h, metric d), second (0, 0)
    h_rows = np.stack([human, np.zeros_like(human)], axis=1).ravel()
    m_rows = np.stack([diff, np.zeros_like(diff)], axis=1).ravel()
    group = np.repeat(np.arange(human.size), 2)
    ref = tie_calibrated_accuracy(h_rows, m_rows, group, weighting="pair")
    got = tie_calibrated_pair_accuracy(human, diff)
    assert got.accuracy == pytest.approx(ref.accuracy)
    assert got.epsilon == pytest.approx(ref.epsilon)
    assert got.n_pairs == human.size


@settings(max_examples=100, deadline=None)
@given(outcomes, st.lists(st.integers(1, 4), min_size=40, max_size=40))
def test_integer_weights_equal_repeating_the_pair(rows, reps):
    human = np.array([h for h, _ in rows], dtype=float)
    diff = np.array([d for _, d in rows], dtype=float)
    w = np.array(reps[: human.size], dtype=float)
    weighted = tie_calibrated_pair_accuracy(human, diff, w)
    repeated = tie_calibrated_pair_accuracy(np.repeat(human, reps[: human.size]), np.repeat(diff, reps[: human.size]))
    assert weighted.accuracy == pytest.approx(repeated.accuracy)
    # epsilon is not compared: several thresholds can reach the same optimal accuracy


def test_pair_accuracy_finds_the_tie_threshold():
    # human ties have small metric differences, preferences large ones: a threshold between
    # 0.2 and 1.0 makes every pair right
    human = np.array([0, 0, 1, -1, 1])
    diff = np.array([0.1, -0.2, 1.0, -2.0, 3.0])
    res = tie_calibrated_pair_accuracy(human, diff)
    assert res.accuracy == 1.0 and 0.2 < res.epsilon < 1.0
    assert np.isnan(tie_calibrated_pair_accuracy(np.zeros(0), np.zeros(0)).accuracy)


@settings(max_examples=80, deadline=None)
@given(outcomes, st.lists(st.booleans(), min_size=40, max_size=40))
def test_pair_kendall_does_not_depend_on_which_candidate_is_first(rows, flips):
    human = np.array([h for h, _ in rows], dtype=float)
    diff = np.array([d for _, d in rows], dtype=float)
    f = np.where(np.array(flips[: human.size]), -1.0, 1.0)
    for variant in ("b", "c"):
        a, b = pair_kendall(human, diff, variant), pair_kendall(human * f, diff * f, variant)
        assert (np.isnan(a) and np.isnan(b)) or a == pytest.approx(b)


def test_pair_kendall_of_a_perfect_and_a_reversed_judge():
    human = np.array([1, -1, 1, -1, 0, 0])
    diff = np.array([2.0, -2.0, 2.0, -2.0, 0.0, 0.0])
    assert pair_kendall(human, diff, "b") == pytest.approx(1.0)
    assert pair_kendall(human, -diff, "b") == pytest.approx(-1.0)
    # right signs with varied magnitudes: below 1 (ties among human outcomes), well above 0
    assert 0.8 < pair_kendall(human, np.array([2.0, -1.5, 0.7, -3.0, 0.0, 0.0]), "b") < 1.0


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([-1.0, 0.0, 1.0, 2.5]), st.integers(-4, 4)), min_size=2, max_size=60))
def test_kendall_few_levels_equals_kendall_tau(rows):
    x = np.array([a for a, _ in rows])
    y = np.array([b for _, b in rows], dtype=float) / 3.0
    for variant in ("b", "c"):
        a, b = kendall_few_levels(x, y, variant), kendall_tau(x, y, variant)
        assert (np.isnan(a) and np.isnan(b)) or a == pytest.approx(b, abs=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
def test_bootstrap_bt_cells_equals_bootstrap_bt(weighted):
    rng = np.random.default_rng(4)
    n, k = 3000, 5
    i = rng.integers(0, k, n)
    j = (i + rng.integers(1, k, n)) % k
    skill = np.linspace(1, -1, k)
    p = 1 / (1 + np.exp(-(skill[i] - skill[j])))
    u = rng.random(n)
    y = np.where(u < 0.2, 0, np.where(rng.random(n) < p, 1, 2))
    w = rng.uniform(0.5, 3, n) if weighted else None
    ref = bootstrap_bt(i, j, y, k, np.random.default_rng(9), n_boot=30, weights=w)
    got = bootstrap_bt_cells(i, j, y, k, np.random.default_rng(9), n_boot=30, weights=w)
    assert got.estimate == pytest.approx(ref.estimate, abs=1e-7)
    assert got.samples == pytest.approx(ref.samples, abs=1e-7)
    assert got.low == pytest.approx(ref.low, abs=1e-7) and got.high == pytest.approx(ref.high, abs=1e-7)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 2)), min_size=2, max_size=60))
def test_agreement_counts_add_up_to_pairwise_agreement(rows):
    unit = np.array([u for u, _ in rows])
    label = np.array([lab for _, lab in rows])
    units, agree, pairs = agreement_counts(unit, label)
    assert list(units) == sorted(set(unit))
    ref = pairwise_agreement(unit, label)
    if pairs.sum() == 0:
        assert np.isnan(ref)
    else:
        assert agree.sum() / pairs.sum() == pytest.approx(ref)


def brute_loo(group, cand, rater, score):
    out = []
    rows = list(zip(group, cand, rater, score, strict=True))
    for r in sorted(set(rater)):
        mine = [(g, c, s) for g, c, rr, s in rows if rr == r]
        for (g1, c1, s1), (g2, c2, s2) in itertools.combinations(mine, 2):
            if g1 != g2 or c1 == c2:
                continue
            o1 = [s for g, c, rr, s in rows if c == c1 and rr != r]
            o2 = [s for g, c, rr, s in rows if c == c2 and rr != r]
            if not o1 or not o2:
                continue
            out.append(np.sign(s1 - s2) == np.sign(np.mean(o1) - np.mean(o2)))
    return out


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 3), st.integers(1, 5)), min_size=1, max_size=40))
def test_leave_one_rater_out_matches_brute_force(rows):
    seen, uniq = set(), []
    for g, c, r, s in rows:  # candidate c of group g: one score per (candidate, rater)
        key = (g, c, r)
        if key not in seen:
            seen.add(key)
            uniq.append((g, g * 10 + c, r, s))
    group, cand, rater, score = (np.array(col) for col in zip(*uniq, strict=True))
    res = leave_one_rater_out_pairs(group, cand, rater, score.astype(float))
    assert sorted(res.correct.tolist()) == sorted(brute_loo(group, cand, rater, score))


def test_rater_pair_kappas_match_dense_cohen_kappa():
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 3, 200)
    dense = np.stack([np.where(rng.random(200) < 0.8, truth, rng.integers(0, 3, 200)) for _ in range(4)])
    present = rng.random((4, 200)) < 0.7
    r, u = np.nonzero(present)
    names = np.array(["ann", "bob", "cy", "dee"])
    res = rater_pair_kappas(u, names[r], dense[r, u], min_overlap=50)
    assert len(res.n) == 6
    for a, b, n, k in zip(res.rater_a, res.rater_b, res.n, res.kappa, strict=True):
        ia, ib = list(names).index(a), list(names).index(b)
        both = present[ia] & present[ib]
        assert ia < ib and n == both.sum()
        assert k == pytest.approx(cohen_kappa(dense[ia, both], dense[ib, both]))
    assert len(rater_pair_kappas(u, names[r], dense[r, u], min_overlap=10_000).n) == 0


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3), st.integers(1, 4)), min_size=2, max_size=50))
def test_reliability_matrix_gives_the_raters_alpha(rows):
    seen = {}
    for u, r, v in rows:
        seen.setdefault((u, r), v)
    units = sorted({u for u, _ in seen})
    raters = sorted({r for _, r in seen})
    by_rater = np.full((len(raters), len(units)), np.nan)
    for (u, r), v in seen.items():
        by_rater[raters.index(r), units.index(u)] = v
    unit = np.array([u for u, _ in seen])
    value = np.array(list(seen.values()), dtype=float)
    compact = reliability_matrix(unit, value)
    assert compact.shape[1] == len(units) and compact.shape[0] <= len(raters)
    for level in ("nominal", "ordinal", "interval"):
        a, b = krippendorff_alpha(by_rater, level), krippendorff_alpha(compact, level)
        assert (np.isnan(a) and np.isnan(b)) or a == pytest.approx(b)


def test_cluster_bootstrap_means_resample_whole_clusters():
    value = np.array([1.0, 2.0, 3.0, 4.0, 10.0, 20.0])
    judge = value * 2
    group = np.array([0, 1, 0, 1, 0, 1])
    cluster = np.array(["x", "x", "y", "y", "z", "z"])
    res = cluster_bootstrap_means([value, judge], group, 3, cluster, np.random.default_rng(7), n_boot=50)
    assert res.estimate.shape == (2, 3) and res.samples.shape == (50, 2, 3)
    assert res.estimate[0, :2] == pytest.approx([14 / 3, 26 / 3]) and np.isnan(res.estimate[0, 2])
    rng = np.random.default_rng(7)
    per_cluster = {"x": (1.0, 2.0), "y": (3.0, 4.0), "z": (10.0, 20.0)}
    for b in range(50):
        draw = rng.integers(0, 3, 3)
        picked = [per_cluster["xyz"[i]] for i in draw]
        assert res.samples[b, 0, 0] == pytest.approx(np.mean([p[0] for p in picked]))
        assert res.samples[b, 0, 1] == pytest.approx(np.mean([p[1] for p in picked]))
    assert np.allclose(res.samples[:, 1], 2 * res.samples[:, 0], equal_nan=True)  # paired draws


def test_pvalues_and_replicate_intervals_match_loops():
    rng = np.random.default_rng(11)
    s = rng.normal(size=(300, 4)) + np.array([0.0, 0.5, 1.0, 1.0])
    s[5, 2] = np.nan
    p = pvalues_from_samples(s)
    for i, j in itertools.permutations(range(4), 2):
        ok = ~np.isnan(s[:, i]) & ~np.isnan(s[:, j])
        assert p[i, j] == pytest.approx(np.mean(s[ok, i] <= s[ok, j]))
    assert np.isnan(np.diag(p)).all()
    assert p[2, 0] < 0.3 and p[0, 2] > 0.7  # system 2 is better than system 0
    t = s + rng.normal(scale=0.1, size=s.shape)
    low, high = replicate_interval(pearson, s, t)
    reps = [pearson(x[~np.isnan(x) & ~np.isnan(y)], y[~np.isnan(x) & ~np.isnan(y)]) for x, y in zip(s, t, strict=True)]
    assert (low, high) == pytest.approx(tuple(np.quantile(reps, [0.025, 0.975])))
    assert np.isnan(replicate_interval(kendall_tau, np.full((3, 2), np.nan), np.zeros((3, 2)))[0])


def test_preference_probability_and_pairs():
    x = np.array([-1000.0, -2.0, 0.0, 2.0, 1000.0])
    assert preference_probability(x) == pytest.approx(1 / (1 + np.exp(-np.clip(x, -700, 700))))
    a, b = within_group_pairs(np.array(["p", "q", "p", "p"]))
    assert sorted(zip(a.tolist(), b.tolist())) == [(0, 2), (0, 3), (2, 3)]
