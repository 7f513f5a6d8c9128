"""Annotator and judge biases: position (first-shown wins too often), inconsistency under
swapped display order, length (longer wins too often, and rankings with length held
fixed), and drift of an annotator's behaviour over their own sequence of judgments.

Outcomes use the codes of ``bt.Outcome`` relative to the DISPLAY order:
0 = tie, 1 = first-shown candidate preferred, 2 = second-shown candidate preferred."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._groups import encode
from .bt import BTFit, fit_bt
from .proportions import RateTable, counts_table, rate_table


def position_bias(
    outcome: np.ndarray, annotator: np.ndarray | None = None, level: float = 0.95
) -> RateTable:
    """First-position win rate among decisive judgments (ties dropped), per annotator
    (or overall when ``annotator`` is None), with Wilson interval and exact binomial
    p-value against 0.5."""
    y = np.asarray(outcome)
    return rate_table(y == 1, y != 0, annotator, p0=0.5, level=level)


def swap_flip_rate(
    annotator: np.ndarray,
    first_item: np.ndarray,
    second_item: np.ndarray,
    outcome: np.ndarray,
    by_annotator: bool = False,
    level: float = 0.95,
) -> RateTable:
    """Share of inconsistent outcomes when the same annotator judged the same pair in
    both display orders: every (order A-B judgment, order B-A judgment) combination of
    decisive outcomes counts once and is inconsistent when the preferred item differs
    (i.e. the annotator followed the position, not the content). Ties are left out.
    No p-value (there is no natural null rate)."""
    y = np.asarray(outcome)
    first = np.asarray(first_item)
    second = np.asarray(second_item)
    items, codes = encode(np.concatenate([first, second]))
    n = first.size
    f, s = codes[:n], codes[n:]
    lo, hi = np.minimum(f, s), np.maximum(f, s)
    ann_labels, ann = encode(annotator)
    dec = y != 0
    shown_lo_first = (f == lo).astype(np.int64)
    winner = np.where(y == 1, f, s)
    lo_wins = (winner == lo).astype(np.int64)
    m = items.size
    key = (ann[dec] * m + lo[dec]) * m + hi[dec]
    keys, grp = np.unique(key, return_inverse=True)
    c = np.bincount(grp * 4 + shown_lo_first[dec] * 2 + lo_wins[dec], minlength=keys.size * 4)
    c = c.reshape(keys.size, 2, 2).astype(np.int64)
    cross = c[:, 0, :].sum(axis=1) * c[:, 1, :].sum(axis=1)
    bad = c[:, 0, 0] * c[:, 1, 1] + c[:, 0, 1] * c[:, 1, 0]
    if not by_annotator:
        return counts_table(np.array(["all"]), np.array([bad.sum()]), np.array([cross.sum()]), None, level)
    grp_ann = keys // (m * m)
    a = ann_labels.size
    return counts_table(
        ann_labels,
        np.bincount(grp_ann, bad, a).astype(np.int64),
        np.bincount(grp_ann, cross, a).astype(np.int64),
        None,
        level,
    )


def length_bias(
    len_first: np.ndarray,
    len_second: np.ndarray,
    outcome: np.ndarray,
    annotator: np.ndarray | None = None,
    level: float = 0.95,
) -> RateTable:
    """Share of decisive judgments between candidates of different length that the
    longer one won, with Wilson interval and binomial p-value against 0.5."""
    l1 = np.asarray(len_first, dtype=float)
    l2 = np.asarray(len_second, dtype=float)
    y = np.asarray(outcome)
    valid = (y != 0) & (l1 != l2)
    longer_won = ((y == 1) & (l1 > l2)) | ((y == 2) & (l2 > l1))
    return rate_table(longer_won, valid, annotator, p0=0.5, level=level)


@dataclass(frozen=True, eq=False)
class LengthControlled:
    """``raw`` ignores length; ``controlled`` has the covariate (len_i - len_j) /
    (len_i + len_j) with coefficient ``controlled.coef[0]`` (> 0: longer is preferred).
    ``controlled.scores`` are the system scores with the covariate set to zero."""

    raw: BTFit
    controlled: BTFit


def length_controlled_bt(
    i: np.ndarray,
    j: np.ndarray,
    outcome: np.ndarray,
    len_i: np.ndarray,
    len_j: np.ndarray,
    n_players: int,
    weights: np.ndarray | None = None,
    alpha: float = 1e-2,
) -> LengthControlled:
    """Bradley–Terry with and without a normalised length-difference covariate, as in
    style-controlled arena rankings (here outcome codes are relative to i and j)."""
    li = np.asarray(len_i, dtype=float)
    lj = np.asarray(len_j, dtype=float)
    tot = li + lj
    x = np.where(tot > 0, (li - lj) / np.where(tot > 0, tot, 1.0), 0.0)
    raw = fit_bt(i, j, outcome, n_players, weights, alpha=alpha)
    ctl = fit_bt(i, j, outcome, n_players, weights, x[:, None], alpha=alpha)
    return LengthControlled(raw, ctl)


def agreement_with_majority(unit: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Per judgment: 1.0 if it matches the strict majority label of the OTHER
    judgments on its unit, 0.0 if not, NaN when the others have no strict majority
    (or there are no others). Leave-one-out so an annotator is not compared to itself."""
    _, u = encode(unit)
    _, lab = encode(label)
    v = int(lab.max()) + 1 if lab.size else 1
    counts = np.bincount(u * v + lab, minlength=(int(u.max()) + 1 if u.size else 0) * v)
    others = counts.reshape(-1, v)[u].astype(np.int64)
    others[np.arange(lab.size), lab] -= 1
    top = others.max(axis=1)
    unique_top = (others == top[:, None]).sum(axis=1) == 1
    ok = unique_top & (top > 0)
    return np.where(ok, (others.argmax(axis=1) == lab).astype(float), np.nan)


@dataclass(frozen=True, eq=False)
class Drift:
    """``mean[a, w]`` = mean value of annotator a's judgments number w*window ..
    (w+1)*window-1 in their own order (NaN values skipped); ``count`` = values used."""

    annotators: np.ndarray
    mean: np.ndarray
    count: np.ndarray
    window: int


def drift(
    annotator: np.ndarray, order: np.ndarray, value: np.ndarray, window: int = 50
) -> Drift:
    """Windowed mean of a per-judgment value along each annotator's own sequence
    (sorted by ``order``, e.g. timestamp). Simple on purpose: windows are counts of
    judgments, not clock time, so slow and fast annotators are comparable. Typical
    values: ``agreement_with_majority`` or (outcome == 1) with ties as NaN."""
    labels, a = encode(annotator)
    val = np.asarray(value, dtype=float)
    idx = np.lexsort((np.asarray(order), a))
    a_sorted = a[idx]
    sizes = np.bincount(a, minlength=labels.size)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    rank = np.arange(a.size) - starts[a_sorted]
    w = rank // window
    nw = int(w.max()) + 1 if w.size else 0
    v = val[idx]
    ok = ~np.isnan(v)
    cell = a_sorted * nw + w
    cnt = np.bincount(cell[ok], minlength=labels.size * nw).reshape(labels.size, nw)
    tot = np.bincount(cell[ok], v[ok], labels.size * nw).reshape(labels.size, nw)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(cnt > 0, tot / np.where(cnt > 0, cnt, 1), np.nan)
    return Drift(labels, mean, cnt, window)
