"""Calibration of predicted preference probabilities (e.g. sigmoid of reward-score
differences) against what annotators actually chose: expected calibration error with
equal-width bins, plus the per-bin numbers for a reliability diagram."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Calibration:
    """``ece`` = sum_b (weight_b / total) |observed_b - confidence_b|; bins with no
    weight have NaN confidence/observed and do not contribute."""

    ece: float
    edges: np.ndarray
    confidence: np.ndarray
    observed: np.ndarray
    weight: np.ndarray


def outcome_score(outcome: np.ndarray, tie_value: float = 0.5) -> np.ndarray:
    """Map outcome codes (0 tie, 1 first preferred, 2 second preferred) to the observed
    score of the first candidate, so ternary outcomes compare with P(first preferred)."""
    y = np.asarray(outcome)
    return np.where(y == 1, 1.0, np.where(y == 2, 0.0, tie_value))


def calibration_curve(
    prob: np.ndarray,
    observed: np.ndarray,
    n_bins: int = 10,
    weights: np.ndarray | None = None,
) -> Calibration:
    """Equal-width binning of ``prob`` in [0, 1]; ``observed`` is 0/1 (or 0.5 for a tie,
    see ``outcome_score``). ``weights`` (e.g. 1/propensity) weight each judgment."""
    p = np.asarray(prob, dtype=float).ravel()
    y = np.asarray(observed, dtype=float).ravel()
    if p.shape != y.shape:
        raise ValueError("prob and observed must have the same length")
    if np.any((p < 0) | (p > 1)):
        raise ValueError("probabilities must lie in [0, 1]")
    w = np.ones_like(p) if weights is None else np.asarray(weights, dtype=float).ravel()
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    b = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    wb = np.bincount(b, w, n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.bincount(b, w * p, n_bins) / wb
        obs = np.bincount(b, w * y, n_bins) / wb
    total = wb.sum()
    filled = wb > 0
    ece = float((wb[filled] * np.abs(obs[filled] - conf[filled])).sum() / total) if total > 0 else float("nan")
    return Calibration(ece, edges, conf, obs, wb)


def expected_calibration_error(
    prob: np.ndarray,
    observed: np.ndarray,
    n_bins: int = 10,
    weights: np.ndarray | None = None,
) -> float:
    """Just the ECE of ``calibration_curve``."""
    return calibration_curve(prob, observed, n_bins, weights).ece
