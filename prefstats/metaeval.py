"""Pieces of judge meta-evaluation and of the study report that the other modules do not
cover, all pure numpy:

- tie-calibrated accuracy over explicit, weighted pairs (``pairwise.tie_calibrated_accuracy``
  forms pairs itself and takes no weights; reweighting by 1/propensity needs weights);
- Kendall tau between pairwise outcomes and score differences, independent of which
  candidate of a pair is called "a";
- per-unit agreement counts, so tie-aware agreement can be bootstrapped over units;
- human ceilings: leave-one-rater-out pairwise accuracy against the other raters' mean;
- Cohen's kappa for every pair of raters who share enough units;
- a reliability matrix (values x units) from long data, for Krippendorff's alpha;
- cluster-bootstrap samples of group means, and p-values and intervals from replicate
  samples (for system-level correlations and soft pairwise accuracy).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ._groups import encode, pairs_within_groups
from .agreement import cohen_kappa
from .bt import BTBootstrap, fit_bt
from .pairwise import TieCalibrated


def within_group_pairs(group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (a, b) of every unordered pair of rows with the same group label."""
    return pairs_within_groups(np.asarray(group))


def preference_probability(diff: np.ndarray) -> np.ndarray:
    """sigmoid(diff): the Bradley–Terry probability that the first candidate is preferred,
    given a reward (logit-scale) score difference. Stable for any magnitude."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(diff, dtype=float)))


def tie_calibrated_pair_accuracy(
    human: np.ndarray, metric_diff: np.ndarray, weights: np.ndarray | None = None
) -> TieCalibrated:
    """acc_eq (Deutsch et al. 2023) over given pairs: ``human`` is the human preference
    for the first member of each pair (its sign counts: > 0 first preferred, 0 tie, < 0
    second), ``metric_diff`` the judge's score of the first minus the second. A pair is
    correct when both tie (metric tie: |diff| below epsilon) or both are strict with the
    same sign; epsilon is chosen to maximise the (weighted) accuracy, exactly as in
    ``tie_calibrated_accuracy``, whose "pair" weighting this equals for unit weights."""
    h = np.sign(np.asarray(human, dtype=float).ravel())
    dm = np.asarray(metric_diff, dtype=float).ravel()
    if h.shape != dm.shape:
        raise ValueError("human and metric_diff must have the same length")
    n = h.size
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float).ravel()
    if w.shape != h.shape or np.any(w < 0) or not np.isfinite(w).all():
        raise ValueError("weights must be finite, non-negative, one per pair")
    total = w.sum()
    if n == 0 or total <= 0:
        return TieCalibrated(float("nan"), 0.0, int(n))
    w = w / total
    order = np.argsort(np.abs(dm), kind="stable")
    s = np.abs(dm)[order]
    ok_tie = (w * (h == 0))[order]
    ok_strict = (w * ((h != 0) & (np.sign(dm) == h)))[order]
    acc = np.concatenate(([0.0], np.cumsum(ok_tie))) + (ok_strict.sum() - np.concatenate(([0.0], np.cumsum(ok_strict))))
    valid = np.ones(n + 1, dtype=bool)
    valid[1:n] = s[:-1] < s[1:]
    k = int(np.flatnonzero(valid)[np.argmax(acc[valid])])
    if k == 0:
        eps = 0.0
    elif k == n:
        eps = float(np.nextafter(s[-1], np.inf))
    else:
        eps = float((s[k - 1] + s[k]) / 2.0)
    return TieCalibrated(float(acc[k]), eps, int(n))


def kendall_few_levels(x: np.ndarray, y: np.ndarray, variant: str = "b") -> float:
    """Kendall tau-b or tau-c (the same values as ``correlation.kendall_tau``) for an ``x``
    with few distinct values, such as pairwise outcomes: S = concordant - discordant is
    summed over pairs of x levels with one sort and one searchsorted per level, which is
    several times faster than the general merge count and matters inside a bootstrap."""
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError("x and y must have the same length")
    n = x.size
    if n < 2:
        return float("nan")
    levels, xc = encode(x)
    by_level = [np.sort(y[xc == c]) for c in range(levels.size)]
    s = 0.0
    for hi in range(levels.size):
        for lo in range(hi):
            below = np.searchsorted(by_level[lo], by_level[hi], "left").sum()
            above = (by_level[lo].size - np.searchsorted(by_level[lo], by_level[hi], "right")).sum()
            s += float(below - above)
    n0 = n * (n - 1) / 2.0
    t_x = np.bincount(xc).astype(float)
    n1 = float((t_x * (t_x - 1)).sum() / 2.0)
    t_y = np.unique(y, return_counts=True)[1].astype(float)
    n2 = float((t_y * (t_y - 1)).sum() / 2.0)
    if variant == "b":
        denom = np.sqrt((n0 - n1) * (n0 - n2))
        return float(s / denom) if denom > 0 else float("nan")
    if variant == "c":
        m = min(levels.size, t_y.size)
        return float(2.0 * s / (n * n * (m - 1) / m)) if m > 1 else float("nan")
    raise ValueError(f"unknown variant {variant!r}")


def weighted_kendall_b_few_levels(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """Kendall tau-b with observation weights: every pair (i, j) counts w_i * w_j, in the
    concordance sum and in the tie corrections alike. With whole-number weights it equals
    tau-b of the data with row i repeated w_i times (copies of one row are tied in x and in
    y, so they cancel out of both corrections); with unit weights, plain tau-b. For an ``x``
    with few distinct values (pairwise outcomes), as ``kendall_few_levels``."""
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    w = np.asarray(w, dtype=float).ravel()
    if not x.shape == y.shape == w.shape:
        raise ValueError("x, y and w must have the same length")
    if x.size < 2:
        return float("nan")
    levels, xc = encode(x)
    s = 0.0
    sorted_levels = []
    for c in range(levels.size):
        order = np.argsort(y[xc == c], kind="stable")
        ys, ws = y[xc == c][order], w[xc == c][order]
        sorted_levels.append((ys, ws, np.concatenate([[0.0], np.cumsum(ws)])))
    for hi in range(levels.size):
        y_hi, w_hi, _ = sorted_levels[hi]
        for lo in range(hi):
            y_lo, _, cum_lo = sorted_levels[lo]
            below = cum_lo[np.searchsorted(y_lo, y_hi, "left")]  # weight of lo rows with a smaller y
            above = cum_lo[-1] - cum_lo[np.searchsorted(y_lo, y_hi, "right")]
            s += float(np.sum(w_hi * (below - above)))

    def pairs(groups: np.ndarray) -> float:  # sum over pairs within each group of w_i * w_j
        tot = np.bincount(groups, w)
        sq = np.bincount(groups, w * w)
        return float(((tot * tot - sq) / 2.0).sum())

    n0 = pairs(np.zeros(x.size, dtype=np.int64))
    n1 = pairs(xc)
    n2 = pairs(encode(y)[1])
    denom = np.sqrt((n0 - n1) * (n0 - n2))
    return float(s / denom) if denom > 0 else float("nan")


def pair_kendall(human: np.ndarray, metric_diff: np.ndarray, variant: str = "b", weights: np.ndarray | None = None) -> float:
    """Kendall tau (b or c) between pairwise human outcomes (sign of ``human``: +1 first
    preferred, 0 tie, -1 second) and the judge's score differences, over judgments. Every
    pair enters in both orientations, so which candidate is "first" does not matter.
    ``weights`` (tau-b only): per judgment, e.g. 1/propensity of actively sampled units."""
    h = np.sign(np.asarray(human, dtype=float).ravel())
    d = np.asarray(metric_diff, dtype=float).ravel()
    if weights is not None:
        if variant != "b":
            raise ValueError("weights are supported for tau-b only")
        w = np.asarray(weights, dtype=float).ravel()
        return weighted_kendall_b_few_levels(np.concatenate([h, -h]), np.concatenate([d, -d]), np.concatenate([w, w]))
    return kendall_few_levels(np.concatenate([h, -h]), np.concatenate([d, -d]), variant)


def bootstrap_bt_cells(
    i: np.ndarray,
    j: np.ndarray,
    outcome: np.ndarray,
    n_players: int,
    rng: np.random.Generator,
    n_boot: int = 200,
    level: float = 0.95,
    weights: np.ndarray | None = None,
    alpha: float = 1e-2,
) -> BTBootstrap:
    """``bt.bootstrap_bt`` (resample comparisons with replacement, percentile intervals)
    with every fit run on the distinct (i, j, outcome) cells and their summed weights: the
    likelihood is the same, and a fit costs the number of cells (at most 3 x pairs of
    players), not the number of comparisons. Draws the same random numbers in the same
    order as ``bootstrap_bt``, so it returns the same intervals. No covariates."""
    i = np.asarray(i, dtype=np.int64).ravel()
    j = np.asarray(j, dtype=np.int64).ravel()
    y = np.asarray(outcome).ravel().astype(np.int64)
    n = i.size
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float).ravel()
    key = (i * n_players + j) * 3 + y
    cells, cell = np.unique(key, return_inverse=True)
    ci, cj, cy = (cells // 3) // n_players, (cells // 3) % n_players, (cells % 3).astype(np.int8)
    m = cells.size
    full = fit_bt(ci, cj, cy, n_players, np.bincount(cell, w, m), alpha=alpha)
    samples = np.empty((n_boot, n_players))
    for b in range(n_boot):
        counts = np.bincount(rng.integers(0, n, n), minlength=n) if n else np.zeros(0)
        fb = fit_bt(ci, cj, cy, n_players, np.bincount(cell, w * counts, m), alpha=alpha, ties=full.fits_ties, init=full)
        samples[b] = fb.scores
    tail = (1.0 - level) / 2.0
    if n_boot:
        low, high = np.quantile(samples, [tail, 1.0 - tail], axis=0)
    else:
        low = high = np.full(n_players, np.nan)
    return BTBootstrap(full.scores, low, high, samples, level)


def agreement_counts(unit: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(units, agreeing pairs, pairs) per unit: the numbers behind ``pairwise_agreement``
    (sum of agreeing over sum of pairs), one row per unit so it can be bootstrapped."""
    units, u = encode(unit)
    _, lab = encode(label)
    v = int(lab.max()) + 1 if lab.size else 1
    n_ul = np.bincount(u * v + lab, minlength=units.size * v).reshape(units.size, v).astype(float)
    m_u = n_ul.sum(axis=1)
    return units, (n_ul * (n_ul - 1)).sum(axis=1) / 2.0, m_u * (m_u - 1) / 2.0


@dataclass(frozen=True, eq=False)
class LooPairs:
    """One row per (rater, pair of candidates of a group both scored by that rater and by
    someone else): whether the rater orders the pair like the mean of the other raters
    (ties count as an order), and the pair's group (for a cluster bootstrap)."""

    correct: np.ndarray
    group: np.ndarray
    rater: np.ndarray


def leave_one_rater_out_pairs(
    group: np.ndarray, candidate: np.ndarray, rater: np.ndarray, score: np.ndarray
) -> LooPairs:
    """Human ceiling for score-based judgments: for each rater, the pairs of candidates of
    the same group (e.g. source item) that the rater scored, compared with the mean score
    the OTHER raters gave those candidates. One row of input per (candidate, rater)."""
    s = np.asarray(score, dtype=float)
    _, c = encode(candidate)
    tot = np.bincount(c, s)
    cnt = np.bincount(c)
    others_n = cnt[c] - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        others = np.where(others_n > 0, (tot[c] - s) / np.where(others_n > 0, others_n, 1), np.nan)
    keep = ~np.isnan(others)
    idx = np.flatnonzero(keep)
    g = np.asarray(group)[idx]
    r = np.asarray(rater)[idx]
    _, gc = encode(g)
    _, rc = encode(r)
    a, b = pairs_within_groups(rc * (int(gc.max()) + 1 if gc.size else 1) + gc)
    a, b = idx[a], idx[b]
    distinct = c[a] != c[b]
    a, b = a[distinct], b[distinct]
    correct = np.sign(s[a] - s[b]) == np.sign(others[a] - others[b])
    return LooPairs(correct, np.asarray(group)[a], np.asarray(rater)[a])


@dataclass(frozen=True, eq=False)
class RaterPairs:
    """Cohen's kappa of each pair of raters with at least ``min_overlap`` shared units."""

    rater_a: np.ndarray
    rater_b: np.ndarray
    n: np.ndarray
    kappa: np.ndarray


def rater_pair_kappas(unit: np.ndarray, rater: np.ndarray, label: np.ndarray, min_overlap: int = 20) -> RaterPairs:
    """One row per judgment (unit, rater, label); a rater is expected once per unit."""
    lab = np.asarray(label)
    raters, r = encode(rater)
    a, b = pairs_within_groups(np.asarray(unit))
    diff = r[a] != r[b]
    a, b = a[diff], b[diff]
    swap = r[a] > r[b]
    a, b = np.where(swap, b, a), np.where(swap, a, b)
    key = r[a] * raters.size + r[b]
    order = np.argsort(key, kind="stable")
    key, a, b = key[order], a[order], b[order]
    keys, starts, counts = np.unique(key, return_index=True, return_counts=True)
    ra, rb, ns, ks = [], [], [], []
    for k, st, n in zip(keys, starts, counts, strict=True):
        if n < min_overlap:
            continue
        sl = slice(st, st + n)
        ra.append(raters[k // raters.size])
        rb.append(raters[k % raters.size])
        ns.append(int(n))
        ks.append(cohen_kappa(lab[a[sl]], lab[b[sl]]))
    return RaterPairs(np.asarray(ra, dtype=raters.dtype), np.asarray(rb, dtype=raters.dtype), np.asarray(ns, dtype=np.int64), np.asarray(ks, dtype=float))


def reliability_matrix(unit: np.ndarray, value: np.ndarray) -> np.ndarray:
    """A (most values per unit) x units matrix with NaN for missing, from one row per
    judgment: row k holds each unit's k-th value. Krippendorff's alpha only looks at the
    values within each unit, not at who gave them, so this gives the same alpha as a
    raters x units matrix while staying small when there are many raters."""
    _, u = encode(unit)
    v = np.asarray(value, dtype=float)
    n_units = int(u.max()) + 1 if u.size else 0
    order = np.argsort(u, kind="stable")
    sizes = np.bincount(u, minlength=n_units)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    slot = np.empty(u.size, dtype=np.int64)
    slot[order] = np.arange(u.size) - starts[u[order]]
    out = np.full((int(sizes.max()) if sizes.size else 0, n_units), np.nan)
    out[slot, u] = v
    return out


@dataclass(frozen=True, eq=False)
class GroupMeans:
    """Per-group (e.g. per-system) means of one or more value columns: ``estimate`` is
    (columns, groups), ``samples`` (n_boot, columns, groups); NaN where a group has no
    rows (in the data or in a replicate)."""

    estimate: np.ndarray
    samples: np.ndarray


def cluster_bootstrap_means(
    values: Sequence[np.ndarray],
    group: np.ndarray,
    n_groups: int,
    cluster: np.ndarray,
    rng: np.random.Generator,
    n_boot: int = 200,
) -> GroupMeans:
    """Means of each value column per group (``group`` holds codes 0..n_groups-1), and
    their bootstrap replicates from resampling whole clusters (e.g. items, so a system's
    scores on one item stay together). All columns use the same draws, so statistics
    comparing them (human vs judge) are paired."""
    g = np.asarray(group, dtype=np.int64)
    vals = np.stack([np.asarray(v, dtype=float) for v in values]) if len(values) else np.zeros((0, g.size))
    _, cl = encode(cluster)
    n_cl = int(cl.max()) + 1 if cl.size else 0

    def means(row_w: np.ndarray) -> np.ndarray:
        den = np.bincount(g, row_w, n_groups)
        out = np.empty((vals.shape[0], n_groups))
        for c in range(vals.shape[0]):
            num = np.bincount(g, row_w * vals[c], n_groups)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[c] = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
        return out

    estimate = means(np.ones(g.size))
    samples = np.empty((n_boot, vals.shape[0], n_groups))
    for b in range(n_boot):
        counts = np.bincount(rng.integers(0, n_cl, n_cl), minlength=n_cl).astype(float) if n_cl else np.zeros(0)
        samples[b] = means(counts[cl])
    return GroupMeans(estimate, samples)


def pvalues_from_samples(samples: np.ndarray) -> np.ndarray:
    """P[i, j] = share of bootstrap replicates in which group i does NOT score above group
    j: a one-sided bootstrap p-value that i is better, the analogue of the permutation
    p-values that soft pairwise accuracy compares. Replicates with NaN are skipped per pair."""
    s = np.asarray(samples, dtype=float)
    ok = ~np.isnan(s)
    valid = ok[:, :, None] & ok[:, None, :]
    le = (s[:, :, None] <= s[:, None, :]) & valid
    n = valid.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n > 0, le.sum(axis=0) / np.where(n > 0, n, 1), np.nan)
    np.fill_diagonal(p, np.nan)
    return p


def replicate_interval(
    statistic: Callable[[np.ndarray, np.ndarray], float],
    x_samples: np.ndarray,
    y_samples: np.ndarray,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile interval of ``statistic(x_b, y_b)`` over replicate pairs (rows of the
    two sample matrices, e.g. bootstrap system scores of humans and of a judge). Entries
    that are NaN in either row are dropped from that replicate; NaN replicates are ignored."""
    xs, ys = np.asarray(x_samples, dtype=float), np.asarray(y_samples, dtype=float)
    reps = []
    for x, y in zip(xs, ys, strict=True):
        ok = ~np.isnan(x) & ~np.isnan(y)
        reps.append(statistic(x[ok], y[ok]) if ok.sum() >= 2 else np.nan)
    r = np.asarray(reps, dtype=float)
    r = r[~np.isnan(r)]
    if r.size == 0:
        return float("nan"), float("nan")
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(r, [tail, 1.0 - tail])
    return float(low), float(high)
