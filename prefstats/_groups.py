"""Vectorised grouping helpers shared by the modules (no Python loops over rows)."""

from __future__ import annotations

import numpy as np


def encode(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(unique labels, integer code per row) for any sortable label array."""
    uniq, codes = np.unique(np.asarray(labels), return_inverse=True)
    return uniq, codes.ravel().astype(np.int64)


def pairs_within_groups(group: np.ndarray, ordered: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays (a, b) of every pair of rows sharing a group label: a < b in sorted
    order when ``ordered`` is False, else all a != b. Memory is the number of pairs."""
    _, codes = encode(group)
    order = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    pos = np.arange(order.size)
    g = codes[order]
    end = starts[g] + sizes[g]
    if ordered:
        first, count = starts[g], sizes[g]
    else:
        first, count = pos + 1, end - pos - 1
    total = int(count.sum())
    a_sorted = np.repeat(pos, count)
    offsets = np.repeat(np.cumsum(count) - count, count)
    b_sorted = np.repeat(first, count) + (np.arange(total) - offsets)
    if ordered:
        keep = a_sorted != b_sorted
        a_sorted, b_sorted = a_sorted[keep], b_sorted[keep]
    return order[a_sorted], order[b_sorted]
