"""Correlations between human and automatic scores: Pearson, Kendall tau-b / tau-c
(O(n log n), so segment-level data of any size is fine) and the WMT "tau-like"
formulation over human-ordered pairs (WMT17-20 DARR)."""

from __future__ import annotations

from typing import Literal

import numpy as np

from ._groups import encode, pairs_within_groups


def _pair(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError("x and y must have the same length")
    return x, y


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson r; NaN when either side is constant (no ranking to agree with)."""
    x, y = _pair(x, y)
    xc, yc = x - x.mean(), y - y.mean()
    denom = np.sqrt((xc @ xc) * (yc @ yc))
    return float(xc @ yc / denom) if denom > 0 else float("nan")


def _count_inversions(a: np.ndarray) -> int:
    """Number of pairs p < q with a[p] > a[q], by a bottom-up merge sort whose every
    level is one vectorised searchsorted + sort (block id is folded into the key)."""
    a = np.asarray(a, dtype=np.int64)
    n = a.size
    if n < 2:
        return 0
    r = int(a.max()) + 1
    pos = np.arange(n)
    total = 0
    width = 1
    while width < n:
        block = pos // (2 * width)
        right = (pos % (2 * width)) >= width
        keys = block * r + a
        left_keys = keys[~right]
        le = np.searchsorted(left_keys, keys[right], side="right") - block[right] * width
        total += int((width - le).sum())
        a = np.sort(keys, kind="stable") - block * r
        width *= 2
    return total


def _tied_pairs(codes: np.ndarray) -> float:
    t = np.unique(codes, return_counts=True)[1].astype(float)
    return float((t * (t - 1)).sum() / 2.0)


def kendall_tau(
    x: np.ndarray, y: np.ndarray, variant: Literal["b", "c"] = "b"
) -> float:
    """Kendall tau-b (ties corrected, for square-ish tables) or tau-c (Stuart, for
    rectangular ones such as Likert vs continuous metric), via Knight's algorithm."""
    x, y = _pair(x, y)
    n = x.size
    if n < 2:
        return float("nan")
    ux, cx = encode(x)
    uy, cy = encode(y)
    order = np.lexsort((cy, cx))
    discordant = _count_inversions(cy[order])
    n0 = n * (n - 1) / 2.0
    n1, n2 = _tied_pairs(cx), _tied_pairs(cy)
    n3 = _tied_pairs(cx * uy.size + cy)
    s = (n0 - n1 - n2 + n3) - 2.0 * discordant
    if variant == "b":
        denom = np.sqrt((n0 - n1) * (n0 - n2))
        return float(s / denom) if denom > 0 else float("nan")
    if variant == "c":
        m = min(ux.size, uy.size)
        return float(2.0 * s / (n * n * (m - 1) / m)) if m > 1 else float("nan")
    raise ValueError(f"unknown variant {variant!r}")


def darr_pairs(
    group: np.ndarray, human: np.ndarray, min_diff: float = 25.0
) -> tuple[np.ndarray, np.ndarray]:
    """(better, worse) row indices of the human-ordered pairs used by WMT DARR: two
    outputs for the same source (``group``) whose human scores differ by > min_diff."""
    h = np.asarray(human, dtype=float)
    a, b = pairs_within_groups(group)
    diff = h[a] - h[b]
    keep = np.abs(diff) > min_diff
    a, b, diff = a[keep], b[keep], diff[keep]
    return np.where(diff > 0, a, b), np.where(diff > 0, b, a)


def wmt_tau_like(
    metric_better: np.ndarray, metric_worse: np.ndarray, ties_discordant: bool = True
) -> float:
    """(Concordant - Discordant) / (Concordant + Discordant) over pairs whose human order
    is known: concordant when the metric also scores the human-preferred output higher.
    WMT20 counts metric ties as discordant (``ties_discordant``); otherwise they are
    dropped."""
    mb, mw = _pair(metric_better, metric_worse)
    conc = float((mb > mw).sum())
    disc = float((mb < mw).sum())
    if ties_discordant:
        disc += float((mb == mw).sum())
    total = conc + disc
    return (conc - disc) / total if total > 0 else float("nan")
