"""Percentile bootstrap for any statistic of paired arrays, resampling rows or whole
clusters (e.g. source segments, so outputs of one segment stay together)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._groups import encode


@dataclass(frozen=True, eq=False)
class Interval:
    estimate: float
    low: float
    high: float
    level: float


def bootstrap_ci(
    statistic: Callable[..., float],
    arrays: tuple[np.ndarray, ...],
    rng: np.random.Generator,
    n_boot: int = 1000,
    level: float = 0.95,
    cluster: np.ndarray | None = None,
) -> Interval:
    """``statistic(*arrays)`` with a percentile interval from resampling rows jointly
    (paired), or clusters of rows when ``cluster`` labels are given. Replicates where the
    statistic is NaN (e.g. a constant resample) are ignored."""
    arrs = tuple(np.asarray(a) for a in arrays)
    n = arrs[0].shape[0]
    if any(a.shape[0] != n for a in arrs):
        raise ValueError("arrays must have the same number of rows")
    estimate = float(statistic(*arrs))
    if cluster is None:
        draws = (rng.integers(0, n, n) for _ in range(n_boot))
    else:
        _, codes = encode(cluster)
        order = np.argsort(codes, kind="stable")
        sizes = np.bincount(codes)
        starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))

        def draw() -> np.ndarray:
            g = rng.integers(0, sizes.size, sizes.size)
            cnt = sizes[g]
            offs = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            return order[np.repeat(starts[g], cnt) + offs]

        draws = (draw() for _ in range(n_boot))
    reps = np.array([statistic(*(a[idx] for a in arrs)) for idx in draws], dtype=float)
    reps = reps[~np.isnan(reps)]
    tail = (1.0 - level) / 2.0
    if reps.size == 0:
        return Interval(estimate, float("nan"), float("nan"), level)
    low, high = np.quantile(reps, [tail, 1.0 - tail])
    return Interval(estimate, float(low), float(high), level)
