"""Inter-annotator agreement: Krippendorff's alpha, Cohen's and Fleiss' kappa, and
tie-aware pairwise agreement. Alpha is the one to report for sparse designs (any number
of raters per unit, missing values); the kappas are there because papers quote them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ._groups import encode, pairs_within_groups

Level = Literal["nominal", "ordinal", "interval", "ratio"]


@dataclass(frozen=True, eq=False)
class Coincidences:
    """Krippendorff's coincidence matrix ``o[c, k]`` over the sorted distinct ``values``;
    only pairable units (>= 2 values) contribute, so ``o.sum()`` = number of pairable values."""

    values: np.ndarray
    o: np.ndarray


def coincidence_matrix(data: np.ndarray) -> Coincidences:
    """Build o_ck = sum_u (number of c-k pairs in unit u) / (m_u - 1) from a
    raters x units reliability matrix with NaN for missing. Built from per-unit value
    counts, so memory is (distinct values)^2, never units x values."""
    x = np.asarray(data, dtype=float)
    if x.ndim != 2:
        raise ValueError("data must be a raters x units matrix")
    mask = ~np.isnan(x)
    values = np.unique(x[mask])
    v = values.size
    unit = np.nonzero(mask)[1]
    code = np.searchsorted(values, x[mask])
    keys, n_e = np.unique(unit * v + code, return_counts=True)
    u_e, c_e = keys // max(v, 1), keys % max(v, 1)
    m_u = np.bincount(u_e, n_e)
    keep = m_u[u_e] >= 2
    u_e, c_e, n_e = u_e[keep], c_e[keep], n_e[keep].astype(float)
    scale = 1.0 / (m_u[u_e] - 1.0)
    o = np.zeros(v * v)
    o += np.bincount(c_e * v + c_e, n_e * (n_e - 1.0) * scale, v * v)
    a, b = pairs_within_groups(u_e, ordered=True)
    o += np.bincount(c_e[a] * v + c_e[b], n_e[a] * n_e[b] * scale[a], v * v)
    return Coincidences(values, o.reshape(v, v))


def _delta2(values: np.ndarray, n_c: np.ndarray, level: Level) -> np.ndarray:
    """Squared difference function of Krippendorff (2011) for each pair of values."""
    c, k = np.meshgrid(values, values, indexing="ij")
    if level == "nominal":
        return (c != k).astype(float)
    if level == "interval":
        return (c - k) ** 2
    if level == "ratio":
        s = c + k
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.where(s != 0, (c - k) / np.where(s != 0, s, 1.0), 0.0)
        return r**2
    if level == "ordinal":
        cum = np.cumsum(n_c)
        lo, hi = np.meshgrid(np.arange(values.size), np.arange(values.size), indexing="ij")
        a, b = np.minimum(lo, hi), np.maximum(lo, hi)
        between = cum[b] - cum[a] + n_c[a]
        return (between - (n_c[a] + n_c[b]) / 2.0) ** 2
    raise ValueError(f"unknown level {level!r}")


def krippendorff_alpha(data: np.ndarray, level: Level = "nominal") -> float:
    """alpha = 1 - D_o / D_e from the coincidence matrix; ``data`` is raters x units with
    NaN for missing. NaN when there is no variation to disagree about."""
    co = coincidence_matrix(data)
    n_c = co.o.sum(axis=1)
    n = n_c.sum()
    if n < 2:
        return float("nan")
    d2 = _delta2(co.values, n_c, level)
    observed = (co.o * d2).sum()
    expected = (np.outer(n_c, n_c) * d2).sum() / (n - 1.0)
    if expected == 0:
        return float("nan")
    return float(1.0 - observed / expected)


def cohen_kappa(
    a: np.ndarray,
    b: np.ndarray,
    weights: Literal["linear", "quadratic"] | None = None,
) -> float:
    """Cohen's kappa of two raters' labels on the same units (optionally weighted, for
    ordered labels: categories are the sorted union of both raters' labels)."""
    a, b = np.asarray(a).ravel(), np.asarray(b).ravel()
    if a.shape != b.shape:
        raise ValueError("both raters must label the same units")
    cats, codes = encode(np.concatenate([a, b]))
    v, n = cats.size, a.size
    conf = np.bincount(codes[:n] * v + codes[n:], minlength=v * v).reshape(v, v) / n
    expected = np.outer(conf.sum(axis=1), conf.sum(axis=0))
    idx = np.arange(v)
    dist = np.abs(idx[:, None] - idx[None, :]).astype(float)
    if weights is None:
        w = (dist > 0).astype(float)
    elif weights == "linear":
        w = dist
    elif weights == "quadratic":
        w = dist**2
    else:
        raise ValueError(f"unknown weights {weights!r}")
    denom = (w * expected).sum()
    if denom == 0:
        return float("nan")
    return float(1.0 - (w * conf).sum() / denom)


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' kappa from a units x categories matrix of how many raters chose each
    category; every unit must have the same number of raters."""
    c = np.asarray(counts, dtype=float)
    per_unit = c.sum(axis=1)
    r = per_unit[0]
    if c.ndim != 2 or not np.allclose(per_unit, r) or r < 2:
        raise ValueError("every unit needs the same number (>= 2) of raters")
    p_unit = ((c * c).sum(axis=1) - r) / (r * (r - 1.0))
    p_cat = c.sum(axis=0) / c.sum()
    p_bar, p_e = p_unit.mean(), (p_cat**2).sum()
    if p_e == 1:
        return float("nan")
    return float((p_bar - p_e) / (1.0 - p_e))


def label_counts(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(categories, units x categories counts) from a units x raters label matrix."""
    lab = np.asarray(labels)
    cats, codes = encode(lab.ravel())
    units = np.repeat(np.arange(lab.shape[0]), lab.shape[1])
    counts = np.bincount(units * cats.size + codes, minlength=lab.shape[0] * cats.size)
    return cats, counts.reshape(lab.shape[0], cats.size)


def fleiss_kappa_from_labels(labels: np.ndarray) -> float:
    """Fleiss' kappa from raw labels, units x raters (fixed number of raters)."""
    return fleiss_kappa(label_counts(labels)[1])


def pairwise_agreement(unit: np.ndarray, label: np.ndarray) -> float:
    """Share of annotator pairs on the same unit who gave the same outcome, with tie a
    third outcome next to A and B (so a tie against a decisive vote is a disagreement).
    Input is one row per judgment; units with a single judgment add no pairs."""
    _, u = encode(unit)
    _, lab = encode(label)
    v = int(lab.max()) + 1 if lab.size else 1
    n_ul = np.bincount(u * v + lab).astype(float)
    m_u = np.bincount(u).astype(float)
    pairs = (m_u * (m_u - 1)).sum() / 2.0
    if pairs == 0:
        return float("nan")
    return float((n_ul * (n_ul - 1)).sum() / 2.0 / pairs)
