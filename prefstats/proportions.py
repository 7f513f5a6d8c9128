"""Binomial proportions: Wilson intervals and the exact two-sided binomial test, in
log space with numpy (no scipy). Used by the bias diagnostics."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from ._groups import encode


@dataclass(frozen=True, eq=False)
class RateTable:
    """One row per group: successes / trials with a Wilson interval and, when a null
    rate was given, the exact two-sided binomial p-value (NaN otherwise)."""

    groups: np.ndarray
    successes: np.ndarray
    trials: np.ndarray
    rate: np.ndarray
    low: np.ndarray
    high: np.ndarray
    p_value: np.ndarray


def wilson_interval(
    successes: np.ndarray, trials: np.ndarray, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval: sensible at small n and near 0 or 1, unlike the Wald one.
    NaN where trials == 0."""
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    z = NormalDist().inv_cdf(1.0 - (1.0 - level) / 2.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        phat = k / n
        denom = 1.0 + z * z / n
        centre = (phat + z * z / (2 * n)) / denom
        half = z * np.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / denom
    low = np.where(k <= 0, 0.0, np.clip(centre - half, 0.0, 1.0))
    high = np.where(k >= n, 1.0, np.clip(centre + half, 0.0, 1.0))
    return np.where(n > 0, low, np.nan), np.where(n > 0, high, np.nan)


def binom_test(k: int, n: int, p: float = 0.5) -> float:
    """Exact two-sided binomial p-value: total probability of outcomes no more likely
    than the observed one (same convention as R's binom.test and scipy's binomtest)."""
    if n < 0 or not 0 <= k <= n:
        raise ValueError("need 0 <= k <= n")
    if n == 0:
        return 1.0
    if p <= 0.0 or p >= 1.0:
        return 1.0 if k == (0 if p <= 0 else n) else 0.0
    x = np.arange(1, n + 1, dtype=float)
    log_comb = np.concatenate(([0.0], np.cumsum(np.log(n - x + 1.0) - np.log(x))))
    xs = np.arange(n + 1, dtype=float)
    logpmf = log_comb + xs * math.log(p) + (n - xs) * math.log1p(-p)
    keep = logpmf <= logpmf[k] + math.log1p(1e-7)
    top = logpmf[keep].max()
    return float(min(1.0, math.exp(top) * np.exp(logpmf[keep] - top).sum()))


def rate_table(
    success: np.ndarray,
    valid: np.ndarray,
    groups: np.ndarray | None = None,
    p0: float | None = 0.5,
    level: float = 0.95,
) -> RateTable:
    """Per-group share of ``success`` among ``valid`` rows (one row = one judgment);
    all rows form a single group labelled "all" when ``groups`` is None."""
    s = np.asarray(success, dtype=bool).ravel()
    v = np.asarray(valid, dtype=bool).ravel()
    if groups is None:
        labels, codes = np.array(["all"]), np.zeros(s.size, dtype=np.int64)
    else:
        labels, codes = encode(groups)
    g = labels.size
    k = np.bincount(codes, s & v, g).astype(np.int64)
    n = np.bincount(codes, v, g).astype(np.int64)
    return counts_table(labels, k, n, p0, level)


def counts_table(
    labels: np.ndarray,
    successes: np.ndarray,
    trials: np.ndarray,
    p0: float | None = 0.5,
    level: float = 0.95,
) -> RateTable:
    """RateTable from already aggregated counts (one test per group, not per row)."""
    k = np.asarray(successes)
    n = np.asarray(trials)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, k / np.where(n > 0, n, 1), np.nan)
    low, high = wilson_interval(k, n, level)
    if p0 is None:
        pv = np.full(k.shape, np.nan)
    else:
        pv = np.array([binom_test(int(a), int(b), p0) if b > 0 else np.nan for a, b in zip(k, n)])
    return RateTable(np.asarray(labels), k, n, rate, low, high, pv)
