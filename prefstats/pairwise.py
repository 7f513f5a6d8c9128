"""Pairwise accuracy of a metric against humans: plain (Kocmi et al. 2021), with tie
calibration (Deutsch et al. 2023, "Ties Matter", acc_eq) and soft (Thompson et al. 2024,
SPA, p-values from paired permutation tests)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ._groups import encode, pairs_within_groups


@dataclass(frozen=True, eq=False)
class TieCalibrated:
    """acc_eq at the best epsilon; metric ties are pairs with |metric diff| < epsilon."""

    accuracy: float
    epsilon: float
    n_pairs: int


def pairwise_accuracy(human: np.ndarray, metric: np.ndarray) -> float:
    """Share of item pairs the metric orders like the humans, over pairs with a strict
    human order (the system-level accuracy of Kocmi et al. 2021; metric ties count wrong)."""
    h = np.asarray(human, dtype=float).ravel()
    m = np.asarray(metric, dtype=float).ravel()
    a, b = np.triu_indices(h.size, k=1)
    sh, sm = np.sign(h[a] - h[b]), np.sign(m[a] - m[b])
    decided = sh != 0
    return float((sh[decided] == sm[decided]).mean()) if decided.any() else float("nan")


def tie_calibrated_accuracy(
    human: np.ndarray,
    metric: np.ndarray,
    group: np.ndarray | None = None,
    weighting: Literal["group", "pair"] = "group",
) -> TieCalibrated:
    """acc_eq over all pairs (within ``group``, e.g. the source segment, when given), with
    the epsilon that maximises it. A pair is correct when both sides tie, or both are
    strict and agree in sign. With ``weighting="group"`` every group counts equally (the
    paper's item grouping); "pair" pools pairs. The optimum is found exactly by sorting
    |metric diff| once: accuracy only changes where epsilon passes one of those values.
    The returned epsilon is the midpoint between the largest tied and the smallest
    untied |diff| (0 when no ties is best); among equal optima the smallest is kept."""
    h = np.asarray(human, dtype=float).ravel()
    m = np.asarray(metric, dtype=float).ravel()
    if group is None:
        a, b = np.triu_indices(h.size, k=1)
        pair_group = np.zeros(a.size, dtype=np.int64)
    else:
        a, b = pairs_within_groups(group)
        pair_group = encode(np.asarray(group)[a])[1]
    n = a.size
    if n == 0:
        return TieCalibrated(float("nan"), 0.0, 0)
    dh, dm = h[a] - h[b], m[a] - m[b]
    if weighting == "group":
        per = np.bincount(pair_group).astype(float)
        w = 1.0 / per[pair_group] / np.count_nonzero(per)
    elif weighting == "pair":
        w = np.full(n, 1.0 / n)
    else:
        raise ValueError(f"unknown weighting {weighting!r}")
    order = np.argsort(np.abs(dm), kind="stable")
    s = np.abs(dm)[order]
    ok_tie = (w * (dh == 0))[order]
    ok_strict = (w * ((dh != 0) & (np.sign(dm) == np.sign(dh))))[order]
    # acc[k] = accuracy when the k smallest |diff| are metric ties, k = 0..n
    tie_part = np.concatenate(([0.0], np.cumsum(ok_tie)))
    strict_part = ok_strict.sum() - np.concatenate(([0.0], np.cumsum(ok_strict)))
    acc = tie_part + strict_part
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


def _signs(rng: np.random.Generator, n_resamples: int, n_segments: int) -> np.ndarray:
    return rng.choice(np.array([-1.0, 1.0]), size=(n_resamples, n_segments))


def _pvalues(x: np.ndarray, signs: np.ndarray) -> np.ndarray:
    if np.isnan(x).any():
        raise ValueError("segment scores must be complete (same segments for all systems)")
    k, s = x.shape
    a, b = np.triu_indices(k, k=1)
    diff = x[a] - x[b]
    perm = diff @ signs.T / s
    obs = diff.mean(axis=1, keepdims=True)
    tol = 1e-12 * max(1.0, float(np.abs(diff).max(initial=0.0)))
    upper = (perm >= obs - tol).mean(axis=1)
    lower = (perm <= obs + tol).mean(axis=1)
    p = np.full((k, k), np.nan)
    p[a, b], p[b, a] = upper, lower
    return p


def permutation_pvalues(
    seg_scores: np.ndarray, rng: np.random.Generator, n_resamples: int = 1000
) -> np.ndarray:
    """P[i, j] = one-sided paired permutation p-value that system i is better than
    system j (higher mean segment score). ``seg_scores`` is systems x segments, complete.
    Permutation swaps the two systems' scores per segment (a sign flip of the difference);
    p = #{permuted >= observed} / R, as in Thompson's reference code (no +1 smoothing,
    so a p-value can be 0); the lower triangle holds the reverse test."""
    x = np.asarray(seg_scores, dtype=float)
    return _pvalues(x, _signs(rng, n_resamples, x.shape[1]))


def soft_pairwise_accuracy(p_human: np.ndarray, p_metric: np.ndarray) -> float:
    """SPA = mean over system pairs i < j of 1 - |p_h[i, j] - p_m[i, j]|: rewards a metric
    for being as (un)sure about each pair as the humans, not just for the sign."""
    ph, pm = np.asarray(p_human, dtype=float), np.asarray(p_metric, dtype=float)
    a, b = np.triu_indices(ph.shape[0], k=1)
    return float(np.mean(1.0 - np.abs(ph[a, b] - pm[a, b])))


def spa(
    human_seg: np.ndarray,
    metric_seg: np.ndarray,
    rng: np.random.Generator,
    n_resamples: int = 1000,
) -> float:
    """SPA from systems x segments score matrices, using the same sign flips for humans
    and metric (less Monte Carlo noise in |p_h - p_m|). Valid for system scores that are
    means of segment scores; corpus-level BLEU would need its own resampling."""
    h = np.asarray(human_seg, dtype=float)
    m = np.asarray(metric_seg, dtype=float)
    if h.shape != m.shape:
        raise ValueError("human and metric matrices must be systems x the same segments")
    signs = _signs(rng, n_resamples, h.shape[1])
    return soft_pairwise_accuracy(_pvalues(h, signs), _pvalues(m, signs))
