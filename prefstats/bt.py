"""Bradley–Terry with ties (Davidson 1970), fitted by penalised Newton on weighted comparisons.

Model, for a comparison of players i and j with covariates x (described from i's side):

    d = theta_i - theta_j + x @ beta
    P(i wins) = e^{d/2} / Z,  P(j wins) = e^{-d/2} / Z,  P(tie) = nu / Z,
    Z = e^{d/2} + e^{-d/2} + nu.

With nu = 0 this is plain Bradley–Terry, P(i wins) = sigmoid(d), so scores are on the
usual logit scale (and match ``choix``). The objective is

    -sum_c w_c log P(y_c) + alpha/2 (|theta|^2 + |beta|^2 + log(nu)^2),

convex in (theta, beta, log nu). The ridge makes disconnected graphs and perfect records
fit, and (because the likelihood only sees differences) its optimum has sum(theta) = 0.
Weights let actively sampled comparisons be reweighted by 1/propensity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from itertools import combinations

import numpy as np


class Outcome(IntEnum):
    """Result of one comparison, seen from the first player ``i`` (same codes as PandaLM)."""

    TIE = 0
    I_WINS = 1
    J_WINS = 2


@dataclass(frozen=True, eq=False)
class BTFit:
    """A fitted model. ``hessian`` is of the penalised negative log-likelihood over the
    parameter vector ``[scores, coef, log(nu)]`` (log nu only when ties were fitted);
    its inverse is the Laplace covariance used for intervals and information gain."""

    scores: np.ndarray
    nu: float
    coef: np.ndarray
    hessian: np.ndarray
    alpha: float
    neg_log_posterior: float
    n_iter: int
    converged: bool

    @property
    def n_players(self) -> int:
        return int(self.scores.shape[0])

    @property
    def fits_ties(self) -> bool:
        return self.hessian.shape[0] == self.n_players + self.coef.shape[0] + 1


@dataclass(frozen=True, eq=False)
class BTBootstrap:
    """Percentile bootstrap of the scores; ``samples`` is (n_boot, n_players)."""

    estimate: np.ndarray
    low: np.ndarray
    high: np.ndarray
    samples: np.ndarray
    level: float


@dataclass(frozen=True, eq=False)
class WinRates:
    """``rate[a, b]`` = weighted share of a-vs-b comparisons won by a (ties count
    ``tie_value``), NaN where a and b never met; ``count[a, b]`` = total weight."""

    rate: np.ndarray
    count: np.ndarray


def from_winner_loser(
    winner: np.ndarray, loser: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn winner/loser arrays into the (i, j, outcome) form used everywhere here."""
    w = np.asarray(winner, dtype=np.int64)
    return w, np.asarray(loser, dtype=np.int64), np.full(w.shape, Outcome.I_WINS, np.int8)


def _check(i, j, outcome, n_players, weights, covariates):
    i = np.asarray(i, dtype=np.int64).ravel()
    j = np.asarray(j, dtype=np.int64).ravel()
    y = np.asarray(outcome).ravel()
    n = i.shape[0]
    if j.shape[0] != n or y.shape[0] != n:
        raise ValueError("i, j and outcome must have the same length")
    if n and (min(i.min(), j.min()) < 0 or max(i.max(), j.max()) >= n_players):
        raise ValueError("player index out of range")
    if np.any(i == j):
        raise ValueError("a player cannot be compared with itself")
    if not np.isin(y, (0, 1, 2)).all():
        raise ValueError("outcome must be 0 (tie), 1 (i wins) or 2 (j wins)")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float).ravel()
    if w.shape[0] != n or np.any(w < 0) or not np.isfinite(w).all():
        raise ValueError("weights must be finite, non-negative, one per comparison")
    if covariates is None:
        x = np.zeros((n, 0))
    else:
        x = np.asarray(covariates, dtype=float).reshape(n, -1)
    return i, j, y.astype(np.int8), w, x


def _probs(d: np.ndarray, gamma: float | None):
    """Stable (p_i, p_j, p_tie, log Z) for margins d and log-tie parameter gamma."""
    h = d / 2.0
    if gamma is None:
        lz = np.logaddexp(h, -h)
        return np.exp(h - lz), np.exp(-h - lz), np.zeros_like(d), lz
    lz = np.logaddexp(np.logaddexp(h, -h), gamma)
    return np.exp(h - lz), np.exp(-h - lz), np.exp(gamma - lz), lz


class _Problem:
    """Objective, gradient and Hessian, vectorised over comparisons."""

    def __init__(self, i, j, y, w, x, k, alpha, ties):
        self.i, self.j, self.w, self.x, self.k, self.alpha = i, j, w, x, k, alpha
        self.ties = ties
        self.p = x.shape[1]
        self.yi = w * (y == Outcome.I_WINS)
        self.yj = w * (y == Outcome.J_WINS)
        self.yt = w * (y == Outcome.TIE)
        self.dim = k + self.p + (1 if ties else 0)

    def split(self, phi):
        theta = phi[: self.k]
        beta = phi[self.k : self.k + self.p]
        gamma = phi[-1] if self.ties else None
        return theta, beta, gamma

    def margins(self, phi):
        theta, beta, _ = self.split(phi)
        return theta[self.i] - theta[self.j] + self.x @ beta

    def value(self, phi) -> tuple[float, tuple]:
        """Objective and the per-comparison probabilities (reused by grad_hess)."""
        _, _, gamma = self.split(phi)
        d = self.margins(phi)
        pi, pj, pt, lz = _probs(d, gamma)
        ll = (self.yi - self.yj) @ (d / 2.0) - (self.w @ lz)
        if gamma is not None:
            ll += gamma * self.yt.sum()
        return float(-ll + 0.5 * self.alpha * (phi @ phi)), (pi, pj, pt)

    def grad_hess(self, phi, cache):
        k, p = self.k, self.p
        pi, pj, pt = cache
        w = self.w
        g_d = w * (pi - pj) / 2.0 - (self.yi - self.yj) / 2.0
        h_dd = w * ((pi + pj) - (pi - pj) ** 2) / 4.0
        grad = self.alpha * phi.copy()
        grad[:k] += np.bincount(self.i, g_d, k) - np.bincount(self.j, g_d, k)
        hess = self.alpha * np.eye(self.dim)
        pair = np.bincount(self.i * k + self.j, h_dd, k * k).reshape(k, k)
        hess[:k, :k] += np.diag(np.bincount(self.i, h_dd, k) + np.bincount(self.j, h_dd, k))
        hess[:k, :k] -= pair + pair.T
        if p:
            grad[k : k + p] += self.x.T @ g_d
            hx = h_dd[:, None] * self.x
            cross = np.stack(
                [np.bincount(self.i, hx[:, c], k) - np.bincount(self.j, hx[:, c], k) for c in range(p)],
                axis=1,
            )
            hess[:k, k : k + p] += cross
            hess[k : k + p, :k] += cross.T
            hess[k : k + p, k : k + p] += self.x.T @ hx
        if self.ties:
            grad[-1] += (w * pt).sum() - self.yt.sum()
            h_dg = -w * (pi - pj) * pt / 2.0
            col = np.bincount(self.i, h_dg, k) - np.bincount(self.j, h_dg, k)
            hess[:k, -1] += col
            hess[-1, :k] += col
            if p:
                hess[k : k + p, -1] += self.x.T @ h_dg
                hess[-1, k : k + p] += self.x.T @ h_dg
            hess[-1, -1] += (w * pt * (1.0 - pt)).sum()
        return grad, hess


def fit_bt(
    i: np.ndarray,
    j: np.ndarray,
    outcome: np.ndarray,
    n_players: int,
    weights: np.ndarray | None = None,
    covariates: np.ndarray | None = None,
    alpha: float = 1e-2,
    ties: bool | None = None,
    tol: float = 1e-9,
    max_iter: int = 100,
    init: BTFit | None = None,
) -> BTFit:
    """Fit Davidson–Bradley–Terry by damped Newton. ``ties=None`` fits nu only when the
    data contain ties (otherwise nu = 0, plain BT). ``alpha`` must be > 0 (the ridge is
    what makes perfect records and disconnected graphs finite). Stops when the largest
    Newton step is below ``tol`` (a parameter-scale criterion, so rescaling all weights
    does not change the accuracy)."""
    if alpha <= 0:
        raise ValueError("alpha must be > 0")
    i, j, y, w, x = _check(i, j, outcome, n_players, weights, covariates)
    tie_w = float(w[y == Outcome.TIE].sum())
    fit_ties = tie_w > 0 if ties is None else bool(ties)
    prob = _Problem(i, j, y, w, x, n_players, alpha, fit_ties)
    phi = np.zeros(prob.dim)
    if init is not None and init.hessian.shape[0] == prob.dim:
        phi[:n_players] = init.scores
        phi[n_players : n_players + prob.p] = init.coef
        if fit_ties:
            phi[-1] = np.log(init.nu)
    elif fit_ties:
        share = tie_w / max(float(w.sum()), 1e-300)
        phi[-1] = np.log(max(2 * share / max(1 - share, 1e-3), 1e-3))
    value, cache = prob.value(phi)
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        grad, hess = prob.grad_hess(phi, cache)
        step = np.linalg.solve(hess, -grad)
        if np.max(np.abs(step), initial=0.0) <= tol:
            converged = True
            break
        decrement = float(-grad @ step)
        # near the optimum rounding in the objective hides the decrease: take the step
        tiny = decrement <= 1e-12 * max(1.0, abs(value))
        t = 1.0
        while True:
            cand = phi + t * step
            new, new_cache = prob.value(cand)
            if tiny or new <= value - 0.25 * t * decrement or t < 1e-10:
                break
            t *= 0.5
        phi, value, cache = cand, new, new_cache
    if not converged:
        _, hess = prob.grad_hess(phi, cache)
    theta, beta, gamma = prob.split(phi)
    return BTFit(
        scores=_frozen(theta - theta.mean()),
        nu=float(np.exp(gamma)) if gamma is not None else 0.0,
        coef=_frozen(beta.copy()),
        hessian=_frozen(hess),
        alpha=float(alpha),
        neg_log_posterior=value,
        n_iter=it,
        converged=converged,
    )


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=float)
    a.setflags(write=False)
    return a


def covariance(fit: BTFit) -> np.ndarray:
    """Laplace approximation to the posterior covariance of ``[scores, coef, log nu]``,
    for the centred scores (the common shift the likelihood cannot see, whose variance is
    only the prior's 1/alpha, is projected out)."""
    cov = np.linalg.inv(fit.hessian)
    k = fit.n_players
    t = np.eye(cov.shape[0])
    t[:k, :k] -= 1.0 / k
    return t @ cov @ t.T


def comparison_scores(
    fit: BTFit,
    i: np.ndarray,
    j: np.ndarray,
    outcome: np.ndarray,
    weights: np.ndarray | None = None,
    covariates: np.ndarray | None = None,
) -> np.ndarray:
    """Each comparison's contribution to the gradient of the weighted log-likelihood at the
    fit, over ``[scores, coef, log nu]``: one row per comparison (the data must be those of
    the fit). Summed within clusters, these make the meat of the sandwich covariance."""
    return _comparison_terms(fit, i, j, outcome, weights, covariates, hessians=False)[0]


def _comparison_terms(fit, i, j, outcome, weights, covariates, hessians: bool):
    """(scores (n, dim), the pieces of each comparison's Hessian of -log-likelihood or None:
    see `_hessian_rows`)."""
    k = fit.n_players
    i, j, y, w, x = _check(i, j, outcome, k, weights, covariates)
    p = fit.coef.shape[0]
    if x.shape[1] != p:
        raise ValueError(f"the fit has {p} covariates, the data {x.shape[1]}")
    d = fit.scores[i] - fit.scores[j] + x @ fit.coef
    gamma = float(np.log(fit.nu)) if fit.fits_ties else None
    pi, pj, pt, _ = _probs(d, gamma)
    n, dim = i.shape[0], fit.hessian.shape[0]
    rows = np.arange(n)
    a = np.zeros((n, dim))  # d(margin)/d(parameters)
    a[rows, i] = 1.0
    a[rows, j] = -1.0
    a[:, k : k + p] = x
    s_d = w * ((y == Outcome.I_WINS).astype(float) - (y == Outcome.J_WINS) - (pi - pj)) / 2.0
    scores = s_d[:, None] * a
    if gamma is not None:
        scores[:, -1] = w * ((y == Outcome.TIE) - pt)
    if not hessians:
        return scores, None
    h_dd = w * ((pi + pj) - (pi - pj) ** 2) / 4.0
    if gamma is None:
        return scores, (a, h_dd, None, None)
    return scores, (a, h_dd, -w * (pi - pj) * pt / 2.0, w * pt * (1.0 - pt))


def _hessian_rows(parts, rows) -> np.ndarray:
    """The Hessians (len(rows), dim, dim) of these comparisons, from their margin gradient
    a, d2/dd2, d2/dd dgamma and d2/dgamma2 (made on demand: n x dim x dim at once would not
    fit in memory for big studies)."""
    a, h_dd, h_dg, h_gg = parts
    a = a[rows]
    hess = h_dd[rows, None, None] * a[:, :, None] * a[:, None, :]
    if h_dg is not None:
        hess[:, :, -1] += h_dg[rows, None] * a
        hess[:, -1, :] += h_dg[rows, None] * a
        hess[:, -1, -1] += h_gg[rows]
    return hess


JACKKNIFE_FLOPS = 1e8  # above this estimated cost (about a second) `jackknife_affordable` says no
JACKKNIFE_BLOCK_CELLS = 1 << 22  # numbers in the per-cluster Hessians held at once (32 MB)


def jackknife_affordable(clusters, n: int, dim: int) -> bool:
    """Whether CV3 (``robust_covariance(..., jackknife=True)``) is cheap enough here: it
    solves a dim x dim system per cluster (and per cluster of each intersection of ways),
    so 100 systems and 10,000 items are ~10^10 operations, a million judgments of 8 systems
    ~10^9. Where it is not affordable, CV1 is close
    anyway: with many clusters none carries much of the information."""
    ways = _ways(clusters, n)
    count = sum(np.unique(np.asarray(c)).size for c in ways) + (n if len(ways) > 1 else 0)
    return count * dim**3 + len(ways) * n * dim**2 <= JACKKNIFE_FLOPS


def robust_covariance(
    fit: BTFit,
    i: np.ndarray,
    j: np.ndarray,
    outcome: np.ndarray,
    clusters: np.ndarray | Sequence[np.ndarray] | None = None,
    weights: np.ndarray | None = None,
    covariates: np.ndarray | None = None,
    jackknife: bool = False,
) -> np.ndarray:
    """Cluster-robust (Huber–White sandwich) covariance of ``[scores, coef, log nu]``, for
    the centred scores like ``covariance``: H^-1 B H^-1, with H the fit's Hessian and B the
    sum over clusters of the outer products of each cluster's summed ``comparison_scores``,
    times G/(G-1) for G clusters (CV1).

    Unlike the Laplace covariance it stays valid when the model is wrong in ways that make
    comparisons dependent or noisier than BT says: comparisons of the same item share that
    item's noise, one annotator's comparisons share their reliability, and weights (e.g.
    1/propensity of actively sampled comparisons) enter the meat squared. ``clusters``: one
    label per comparison, or a sequence of such arrays for multi-way clustering (Cameron,
    Gelbach and Miller 2011: inclusion–exclusion over the ways and their intersections,
    negative eigenvalues clipped to 0); None: every comparison its own cluster
    (heteroskedasticity-robust).

    ``jackknife``: CV3 instead of CV1, (G-1)/G sum_g u_g u_g' with u_g = (H - H_g)^-1 s_g,
    the one-step cluster jackknife (MacKinnon, Nielsen and Webb 2023). A cluster that
    carries much of the information about some parameter (a heavily weighted comparison,
    an item that alone links two systems) gets its full influence, which CV1 understates;
    recommended when a few clusters or weights dominate."""
    scores, parts = _comparison_terms(fit, i, j, outcome, weights, covariates, hessians=jackknife)
    n, dim = scores.shape
    codes = []
    for c in _ways(clusters, n):
        if c.shape[0] != n:
            raise ValueError("clusters must give one label per comparison")
        codes.append(np.unique(c, return_inverse=True)[1].ravel())
    if any(int(c.max(initial=0)) < 1 for c in codes):
        raise ValueError("every way of clustering needs at least 2 clusters (see usable_ways)")
    cov = np.zeros((dim, dim))
    inv = np.linalg.inv(fit.hessian)
    for r in range(1, len(codes) + 1):
        for subset in combinations(range(len(codes)), r):
            label = codes[subset[0]]
            for m in subset[1:]:  # the intersection of several ways: pairs of labels
                label = np.unique(np.stack([label, codes[m]], axis=1), axis=0, return_inverse=True)[1].ravel()
            cov += (-1) ** (r + 1) * _cluster_term(scores, parts, label, fit.hessian, inv)
    cov = (cov + cov.T) / 2.0
    if len(codes) > 1:
        vals, vecs = np.linalg.eigh(cov)
        cov = (vecs * np.clip(vals, 0.0, None)) @ vecs.T
    k = fit.n_players
    t = np.eye(dim)
    t[:k, :k] -= 1.0 / k
    return t @ cov @ t.T


def _cluster_term(scores, parts, label, h, inv) -> np.ndarray:
    """One way's covariance: CV1 (parts None) or CV3, the latter a block of clusters at a
    time so that memory stays bounded whatever the number of comparisons."""
    dim = scores.shape[1]
    g = int(label.max()) + 1 if label.size else 0
    if g < 2:
        return np.zeros((dim, dim))
    sums = np.stack([np.bincount(label, scores[:, c], g) for c in range(dim)], axis=1)
    if parts is None:
        return g / (g - 1) * (inv @ (sums.T @ sums) @ inv)
    order = np.argsort(label, kind="stable")
    starts = np.concatenate(([0], np.cumsum(np.bincount(label, minlength=g))))
    budget = max(1, JACKKNIFE_BLOCK_CELLS // (dim * dim))  # matrices held at once
    out = np.zeros((dim, dim))
    g0 = 0
    while g0 < g:
        g1 = min(g, g0 + budget)
        h_g = np.zeros((g1 - g0, dim, dim))
        rows = order[starts[g0] : starts[g1]]
        for r0 in range(0, rows.size, budget):
            chunk = rows[r0 : r0 + budget]
            np.add.at(h_g, label[chunk] - g0, _hessian_rows(parts, chunk))
        u = np.linalg.solve(h[None, :, :] - h_g, sums[g0:g1, :, None])[:, :, 0]
        out += u.T @ u
        g0 = g1
    return (g - 1) / g * out


def _ways(clusters, n: int) -> list[np.ndarray]:
    if clusters is None:
        return [np.arange(n)]
    if isinstance(clusters, np.ndarray) and clusters.ndim == 1:
        return [clusters]
    return [np.asarray(c).ravel() for c in clusters]


MIN_CLUSTERS = 10


def usable_ways(ways: Sequence[np.ndarray], min_clusters: int = MIN_CLUSTERS) -> list[np.ndarray]:
    """The ways of clustering with at least ``min_clusters`` clusters: cluster-robust
    variances from fewer clusters are too noisy to use (Cameron and Miller 2015), e.g. the
    annotator way of a study with three expert annotators."""
    return [np.asarray(c).ravel() for c in ways if np.unique(np.asarray(c)).size >= min_clusters]


def robust_critical_value(clusters: np.ndarray | Sequence[np.ndarray] | None, n: int, level: float = 0.95) -> float:
    """Two-sided critical value for intervals from ``robust_covariance``: Student's t with
    G - 1 degrees of freedom, G the number of clusters (the smallest over the ways), as
    recommended for cluster-robust inference with few clusters (Cameron and Miller 2015);
    without clusters, with n - 1 (about the normal value for large n)."""
    g = min(np.unique(c).size for c in _ways(clusters, n))
    return student_t_quantile(0.5 + level / 2.0, max(g - 1, 1))


def student_t_quantile(p: float, df: float) -> float:
    """Quantile of Student's t distribution (numpy-free of scipy: bisection on the CDF,
    which is a regularized incomplete beta function)."""
    if not 0.0 < p < 1.0 or df <= 0:
        raise ValueError("p must be in (0, 1) and df > 0")
    if p < 0.5:
        return -student_t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while _t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if _t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * max(1.0, hi):
            break
    return (lo + hi) / 2.0


def _t_cdf(t: float, df: float) -> float:
    x = df / (df + t * t)
    tail = 0.5 * _betainc(df / 2.0, 0.5, x)
    return 1.0 - tail if t >= 0 else tail


def _betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b) by its continued fraction (Lentz)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x > (a + 1.0) / (a + b + 2.0):
        return 1.0 - _betainc(b, a, 1.0 - x)
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    f = d
    for m in range(1, 500):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)), -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            f *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return front * f / a


def predict_proba(
    fit: BTFit, i: np.ndarray, j: np.ndarray, covariates: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(P(i wins), P(j wins), P(tie)); covariates default to zero, i.e. the
    style/position-controlled prediction."""
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    d = fit.scores[i] - fit.scores[j]
    if covariates is not None and fit.coef.size:
        d = d + np.asarray(covariates, dtype=float).reshape(d.size, -1) @ fit.coef
    gamma = np.log(fit.nu) if fit.nu > 0 else None
    pi, pj, pt, _ = _probs(np.asarray(d, dtype=float), gamma)
    return pi, pj, pt


def expected_win_rate(fit: BTFit, tie_value: float = 0.5) -> np.ndarray:
    """Each player's expected score against every other player (uniform opponent), with
    covariates set to zero: the controlled scores in probability units."""
    k = fit.n_players
    a, b = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    pi, _, pt = predict_proba(fit, a.ravel(), b.ravel())
    m = (pi + tie_value * pt).reshape(k, k)
    np.fill_diagonal(m, 0.0)
    return m.sum(axis=1) / max(k - 1, 1)


def information_gain(fit: BTFit, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Expected information gain (nats, Gaussian/Laplace approximation) of one more
    comparison of each pair (i, j): 0.5 log(1 + I(d) Var(d)), with I(d) the Fisher
    information of one outcome about the margin d. Used to pick the next pair."""
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    k = fit.n_players
    cov = covariance(fit)[:k, :k]
    var_d = cov[i, i] + cov[j, j] - 2 * cov[i, j]
    pi, pj, _ = predict_proba(fit, i, j)
    fisher = ((pi + pj) - (pi - pj) ** 2) / 4.0
    return 0.5 * np.log1p(fisher * var_d)


def bootstrap_bt(
    i: np.ndarray,
    j: np.ndarray,
    outcome: np.ndarray,
    n_players: int,
    rng: np.random.Generator,
    n_boot: int = 200,
    level: float = 0.95,
    weights: np.ndarray | None = None,
    covariates: np.ndarray | None = None,
    alpha: float = 1e-2,
) -> BTBootstrap:
    """Percentile intervals from resampling comparisons with replacement. A resample is
    passed as per-comparison counts used as weights (same thing, no data copies), and each
    replicate is warm-started from the full fit: a few Newton steps each."""
    i, j, y, w, x = _check(i, j, outcome, n_players, weights, covariates)
    full = fit_bt(i, j, y, n_players, w, x, alpha=alpha)
    n = i.shape[0]
    samples = np.empty((n_boot, n_players))
    ties = full.fits_ties
    for b in range(n_boot):
        counts = np.bincount(rng.integers(0, n, n), minlength=n) if n else np.zeros(0)
        fb = fit_bt(i, j, y, n_players, w * counts, x, alpha=alpha, ties=ties, init=full)
        samples[b] = fb.scores
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(samples, [tail, 1.0 - tail], axis=0)
    return BTBootstrap(full.scores, _frozen(low), _frozen(high), _frozen(samples), level)


def win_rate_matrix(
    i: np.ndarray,
    j: np.ndarray,
    outcome: np.ndarray,
    n_players: int,
    weights: np.ndarray | None = None,
    tie_value: float = 0.5,
) -> WinRates:
    """Head-to-head empirical win rates, for the picture next to the BT ranking."""
    i, j, y, w, _ = _check(i, j, outcome, n_players, weights, None)
    k = n_players
    score_i = w * np.where(y == Outcome.I_WINS, 1.0, np.where(y == Outcome.TIE, tie_value, 0.0))
    score_j = w * np.where(y == Outcome.J_WINS, 1.0, np.where(y == Outcome.TIE, tie_value, 0.0))
    won = np.bincount(i * k + j, score_i, k * k) + np.bincount(j * k + i, score_j, k * k)
    tot = np.bincount(i * k + j, w, k * k) + np.bincount(j * k + i, w, k * k)
    won, tot = won.reshape(k, k), tot.reshape(k, k)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(tot > 0, won / np.where(tot > 0, tot, 1.0), np.nan)
    return WinRates(_frozen(rate), _frozen(tot))
