"""How much one more comparison is worth, under a Gaussian (Laplace) posterior of
Bradley–Terry scores. Pure numpy.

Two criteria, both for a comparison c of players (i, j) whose outcome carries Fisher
information I_c about the margin d_c = theta_i - theta_j:

- `eig`: expected information gain about all scores, 0.5 log(1 + I_c Var(d_c)) (the
  determinant lemma applied to the rank-one update of the precision): D-optimal design.
- `ranking`: expected reduction of the expected number of misordered pairs. For each target
  pair t the posterior probability of getting its order wrong is Phi(-|m_t| / s_t). After
  the comparison, the rank-one update shrinks s_t^2 by r_tc = Cov(d_t, d_c)^2 / (1/I_c +
  Var(d_c)) and the mean moves by N(0, r_tc) (preposterior); the criterion is the sum over
  targets of the drop in E[Phi(-|m_t'| / s_t')], integrated by Gauss–Hermite quadrature.
  It spends judgments where the ranking is still uncertain (close, poorly measured pairs)
  and none on pairs already ordered: the criterion to use when the goal is the ranking.
"""

from __future__ import annotations

import numpy as np

# Probabilists' Gauss–Hermite nodes: E[f(Z)] ~ sum w f(z) for Z ~ N(0, 1).
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(8)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()
NEGLIGIBLE = 1e-6  # a target pair already ordered with this confidence is left out


def upper_tail(z: np.ndarray) -> np.ndarray:
    """P(Z > z) = erfc(z / sqrt2) / 2 for z >= 0, vectorised (numpy has no erf), with the
    Numerical Recipes erfc approximation (relative error < 1.2e-7)."""
    x = np.asarray(z, dtype=float) * (1.0 / np.sqrt(2.0))
    t = 1.0 / (1.0 + 0.5 * x)
    poly = 0.17087277
    for c in (-0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418, 0.37409196, 1.00002368):
        poly = c + t * poly
    return 0.5 * t * np.exp(t * poly - x * x - 1.26551223)


def norm_cdf(x: np.ndarray) -> np.ndarray:
    """Standard normal CDF, from `upper_tail`."""
    x = np.asarray(x, dtype=float)
    tail = upper_tail(np.abs(x))
    return np.where(x >= 0, 1.0 - tail, tail)


def eig(var_d: np.ndarray, info: np.ndarray) -> np.ndarray:
    return 0.5 * np.log1p(np.asarray(info) * np.asarray(var_d))


def ranking_gain(
    mu: np.ndarray,
    cov: np.ndarray,
    cand_i: np.ndarray,
    cand_j: np.ndarray,
    info: np.ndarray,
) -> np.ndarray:
    """Expected drop in the expected number of misordered pairs among all players of
    `mu`/`cov` from one more comparison of each candidate pair (cand_i[c], cand_j[c])."""
    mu = np.asarray(mu, dtype=float)
    cov = np.asarray(cov, dtype=float)
    k = mu.shape[0]
    ti, tj = np.triu_indices(k, 1)
    m_t = mu[ti] - mu[tj]
    var_t = np.maximum(cov[ti, ti] + cov[tj, tj] - 2 * cov[ti, tj], 1e-12)
    s_t = np.sqrt(var_t)
    wrong = upper_tail(np.abs(m_t) / s_t)
    keep = wrong > NEGLIGIBLE
    if not keep.any():
        return np.zeros(len(cand_i))
    ti, tj, m_t, var_t, wrong = ti[keep], tj[keep], m_t[keep], var_t[keep], wrong[keep]
    # Cov(d_t, d_c) for every target t and candidate c: rows of cov differenced twice.
    rows = cov[ti] - cov[tj]  # (T, k)
    cross = rows[:, cand_i] - rows[:, cand_j]  # (T, C)
    var_c = np.maximum(cov[cand_i, cand_i] + cov[cand_j, cand_j] - 2 * cov[cand_i, cand_j], 1e-12)
    info = np.maximum(np.asarray(info, dtype=float), 1e-12)
    shrink = np.minimum(cross**2 / (1.0 / info + var_c)[None, :], var_t[:, None] * (1 - 1e-9))  # (T, C)
    s_after = np.sqrt(var_t[:, None] - shrink)
    moved = m_t[:, None, None] + np.sqrt(shrink)[:, :, None] * _NODES[None, None, :]
    after = upper_tail(np.abs(moved) / s_after[:, :, None]) @ _WEIGHTS  # (T, C)
    return np.maximum(wrong[:, None] - after, 0.0).sum(axis=0)
