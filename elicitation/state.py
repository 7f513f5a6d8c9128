"""Model state for the active strategies: what a refit computes from the judgments so far
and what the cache holds between refits. Pure: numpy and prefstats only, no Django.

A refit turns the study's pairwise judgments into a `state` mapping (see `fit_*` below);
the next-unit request hands that mapping, unchanged, to the strategy as `Context.state`.
Layout (every part optional; a strategy treats a missing part as "nothing known yet"):

    {"system": Block,                  # Bradley–Terry over systems
     "candidate": {item_id: Block},    # Bradley–Terry over the candidates of each item
     "reliability": {annotator_id: eta}, "reliability_prior": eta0,   # crowd-bt
     "reference_reliability": the median eta (crowd-bt, for the choice),
     "length": {(system_a, system_b): [a_longer, b_longer, same]},    # length-balanced
     "n_judgments": int}

    Block = {"players": tuple, "scores": (k,), "cov": (k, k), "nu": float,
             "position": float, "position_sd": float, "n": int}
    (`fit_systems(..., robust=True)` adds "cov_robust": (k, k) and "crit": float)

Scores are centred logits; `cov` is the Laplace covariance of the centred scores;
`position` is the first-shown candidate's advantage in logits (display order is randomised
by the service, so it is a nuisance the fit controls for, and a bias figure to report).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from prefstats.bt import (
    covariance,
    fit_bt,
    jackknife_affordable,
    predict_proba,
    robust_covariance,
    robust_critical_value,
    usable_ways,
)

STATE_VERSION = 1
ALPHA_SYSTEM = 0.01  # ridge of the system-level fit: prior sd 10 logits, i.e. nearly flat
ALPHA_CANDIDATE = 1.0  # candidates of one item are few and seldom judged: prior sd 1 logit
RELIABILITY_PRIOR = (8.0, 2.0)  # Beta prior on an annotator's reliability: mean 0.8, worth 10 judgments
RELIABILITY_RANGE = (0.5, 0.995)
EM_ITERATIONS = 15

TIE, A_WINS, B_WINS = 0, 1, 2  # prefstats.bt.Outcome codes, seen from candidate a


@dataclass(frozen=True)
class Judgment:
    """One pairwise judgment in the form the fits need. `a` < `b` are candidate ids;
    `outcome` is 0 (tie or both bad), 1 (a preferred) or 2 (b preferred)."""

    item_id: int
    a: int
    b: int
    system_a: str
    system_b: str
    outcome: int
    a_first: bool
    annotator_id: int
    len_a: int = 0
    len_b: int = 0


# --- fitting -------------------------------------------------------------------------------


def _centre(cov: np.ndarray) -> np.ndarray:
    k = cov.shape[0]
    t = np.eye(k) - 1.0 / k
    return t @ cov @ t


def _block(players: Sequence[Hashable], scores, cov, nu, position, position_sd, n) -> dict[str, Any]:
    return {
        "players": tuple(players),
        "scores": np.asarray(scores, dtype=float),
        "cov": np.asarray(cov, dtype=float),
        "nu": float(nu),
        "position": float(position),
        "position_sd": float(position_sd),
        "n": int(n),
    }


def _arrays(judgments: Sequence[Judgment], index: Mapping[Hashable, int], key_a, key_b):
    i = np.fromiter((index[key_a(j)] for j in judgments), dtype=np.int64, count=len(judgments))
    jj = np.fromiter((index[key_b(j)] for j in judgments), dtype=np.int64, count=len(judgments))
    y = np.fromiter((j.outcome for j in judgments), dtype=np.int8, count=len(judgments))
    x = np.fromiter((1.0 if j.a_first else -1.0 for j in judgments), dtype=float, count=len(judgments))
    return i, jj, y, x


def _fit_group(players, i, j, y, x, alpha, weights=None, with_position=True, init=None):
    """A Davidson–BT fit of one group, as a Block (plus the BTFit for warm starts)."""
    k = len(players)
    cov_x = x[:, None] if with_position else None
    fit = fit_bt(i, j, y, k, weights=weights, covariates=cov_x, alpha=alpha, init=init)
    full = covariance(fit)
    cov = _centre(full[:k, :k])
    position = float(fit.coef[0]) if with_position and fit.coef.size else 0.0
    position_sd = float(math.sqrt(max(full[k, k], 0.0))) if with_position and fit.coef.size else 0.0
    n = len(i) if weights is None else round(float(np.sum(weights)))
    return _block(players, fit.scores, cov, fit.nu, position, position_sd, n), fit


def fit_systems(
    judgments: Sequence[Judgment],
    alpha: float = ALPHA_SYSTEM,
    weights: Sequence[float] | np.ndarray | None = None,
    robust: bool = False,
) -> dict[str, Any] | None:
    """Bradley–Terry with ties over systems, controlling for display position.

    `weights`: one per judgment (1/propensity for actively sampled ones: the estimate then
    targets what uniform sampling would give). `robust`: also give the block "cov_robust",
    the cluster-robust covariance of the centred scores (CV3, the one-step cluster
    jackknife, two-way: by item and by annotator, since judgments of one item share its
    noise and one annotator's share their reliability), and "crit", the matching two-sided
    95% critical value (t with G - 1 degrees of freedom, G the number of annotators or of
    items, whichever is smaller): the intervals to report, which stay honest when BT is
    only an approximation and when 1/propensity weights are uneven. A way with fewer than
    `prefstats.bt.MIN_CLUSTERS` clusters (three expert annotators) is left out; CV1 where
    CV3 would be too slow (`prefstats.jackknife_affordable`)."""
    if not judgments:
        return None
    players = sorted({j.system_a for j in judgments} | {j.system_b for j in judgments})
    index = {p: n for n, p in enumerate(players)}
    i, jj, y, x = _arrays(judgments, index, lambda r: r.system_a, lambda r: r.system_b)
    w = None
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        w = w / w.mean() if w.size and w.mean() > 0 else w
    block, fit = _fit_group(players, i, jj, y, x, alpha, weights=w)
    if robust and len(judgments) < 2:  # no variance from a single judgment
        block["cov_robust"], block["crit"] = np.full((len(players), len(players)), np.inf), math.inf
    elif robust:
        k = len(players)
        ways = usable_ways((
            np.fromiter((j.item_id for j in judgments), dtype=np.int64, count=len(judgments)),
            np.fromiter((j.annotator_id for j in judgments), dtype=np.int64, count=len(judgments)),
        )) or None  # too few items and annotators: every judgment its own cluster
        jackknife = jackknife_affordable(ways, len(judgments), fit.hessian.shape[0])
        full = robust_covariance(fit, i, jj, y, ways, w, x[:, None], jackknife=jackknife)
        block["cov_robust"] = _centre(full[:k, :k])
        block["crit"] = robust_critical_value(ways, len(judgments))
    return block


def _by_item(judgments: Sequence[Judgment]) -> dict[int, list[Judgment]]:
    groups: dict[int, list[Judgment]] = defaultdict(list)
    for j in judgments:
        groups[j.item_id].append(j)
    return groups


def fit_candidates(judgments: Sequence[Judgment], alpha: float = ALPHA_CANDIDATE) -> dict[int, dict[str, Any]]:
    """Bradley–Terry with ties over the candidates of each item, one small fit per item
    (candidates of different items are never compared). Position is not fitted per item:
    a handful of judgments cannot separate it from the candidates' strengths."""
    out = {}
    for item_id, group in _by_item(judgments).items():
        players = sorted({j.a for j in group} | {j.b for j in group})
        index = {p: n for n, p in enumerate(players)}
        i, jj, y, x = _arrays(group, index, lambda r: r.a, lambda r: r.b)
        out[item_id], _ = _fit_group(players, i, jj, y, x, alpha, with_position=False)
    return out


def length_counts(judgments: Iterable[Judgment]) -> dict[tuple[str, str], list[int]]:
    """Per system pair (sorted names): how often each side's candidate was the longer one,
    and how often they were equally long, over the units judged so far."""
    counts: dict[tuple[str, str], list[int]] = {}
    for j in judgments:
        sa, sb, la, lb = j.system_a, j.system_b, j.len_a, j.len_b
        if sb < sa:
            sa, sb, la, lb = sb, sa, lb, la
        row = counts.setdefault((sa, sb), [0, 0, 0])
        row[0 if la > lb else 1 if lb > la else 2] += 1
    return counts


# --- Crowd-BT (Chen et al. 2013): annotator k reports the truth with probability eta_k ---


def _flip(y: np.ndarray) -> np.ndarray:
    return np.where(y == A_WINS, B_WINS, np.where(y == B_WINS, A_WINS, TIE)).astype(np.int8)


def _prob_of(pi, pj, pt, y):
    return np.where(y == A_WINS, pi, np.where(y == B_WINS, pj, pt))


def fisher_margin(d: np.ndarray, nu: float, eta: np.ndarray | float = 1.0) -> np.ndarray:
    """Fisher information about the margin d of one Davidson–BT outcome reported by an
    annotator who tells the truth with probability eta (wins flipped otherwise, ties kept).
    With eta = 1 this is ((p_i + p_j) - (p_i - p_j)^2) / 4."""
    d = np.asarray(d, dtype=float)
    h = d / 2.0
    log_z = np.logaddexp(np.logaddexp(h, -h), math.log(nu)) if nu > 0 else np.logaddexp(h, -h)
    pi, pj = np.exp(h - log_z), np.exp(-h - log_z)
    pt = np.clip(1.0 - pi - pj, 0.0, 1.0)
    diff = pi - pj
    dpi, dpj, dpt = pi * (1 - diff) / 2, pj * (-1 - diff) / 2, -pt * diff / 2
    eta = np.asarray(eta, dtype=float)
    qi, qj = eta * pi + (1 - eta) * pj, eta * pj + (1 - eta) * pi
    dqi, dqj = eta * dpi + (1 - eta) * dpj, eta * dpj + (1 - eta) * dpi
    tiny = 1e-300
    out = dqi**2 / np.maximum(qi, tiny) + dqj**2 / np.maximum(qj, tiny)
    return out + np.where(pt > 0, dpt**2 / np.maximum(pt, tiny), 0.0)


def fit_crowd(
    judgments: Sequence[Judgment],
    level: str = "system",
    prior: tuple[float, float] = RELIABILITY_PRIOR,
    iterations: int = EM_ITERATIONS,
    start: Mapping[int, float] | None = None,
) -> dict[str, Any]:
    """Crowd-BT by EM. E-step: the posterior probability r that each win was reported
    truthfully; M-step: weighted Davidson–BT fits (the judgment as given with weight r, and
    flipped with weight 1 - r) and eta_k = (sum r + a) / (n_k + a + b) over k's wins (ties
    carry no information about flips). `start`: reliabilities to start from (the last refit's). Covariances are the expected information of the
    flip model at the optimum, so an unreliable annotator's judgments count for less."""
    out: dict[str, Any] = {"reliability": {}, "reliability_prior": prior[0] / (prior[0] + prior[1])}
    if not judgments:
        return out
    annotators = sorted({j.annotator_id for j in judgments})
    a_index = {a: n for n, a in enumerate(annotators)}
    ann = np.fromiter((a_index[j.annotator_id] for j in judgments), dtype=np.int64, count=len(judgments))
    eta = np.full(len(annotators), prior[0] / (prior[0] + prior[1]))
    if start:  # warm start from the last refit's reliabilities: EM then needs few rounds
        eta = np.array([float(start.get(a, e)) for a, e in zip(annotators, eta, strict=True)])
    if level == "system":
        groups = {"": list(range(len(judgments)))}
        players_of = {"": sorted({j.system_a for j in judgments} | {j.system_b for j in judgments})}
        key_a, key_b, alpha, with_position = (lambda r: r.system_a), (lambda r: r.system_b), ALPHA_SYSTEM, True
    else:
        groups = defaultdict(list)
        for n, j in enumerate(judgments):
            groups[j.item_id].append(n)
        players_of = {g: sorted({judgments[n].a for n in idx} | {judgments[n].b for n in idx}) for g, idx in groups.items()}
        key_a, key_b, alpha, with_position = (lambda r: r.a), (lambda r: r.b), ALPHA_CANDIDATE, False
    arrays = {}
    for g, idx in groups.items():
        index = {p: n for n, p in enumerate(players_of[g])}
        arrays[g] = (np.asarray(idx),) + _arrays([judgments[n] for n in idx], index, key_a, key_b)
    y_all = np.fromiter((j.outcome for j in judgments), dtype=np.int8, count=len(judgments))
    wins = y_all != TIE
    r = np.ones(len(judgments))
    fits: dict[Hashable, Any] = {}
    for _ in range(iterations):
        for g, (idx, i, jj, y, x) in arrays.items():
            w = np.concatenate([r[idx], 1.0 - r[idx]])
            _, fits[g] = _fit_group(
                players_of[g],
                np.concatenate([i, i]),
                np.concatenate([jj, jj]),
                np.concatenate([y, _flip(y)]),
                np.concatenate([x, x]),
                alpha,
                weights=w,
                with_position=with_position,
                init=fits.get(g),
            )
        new_r = np.ones(len(judgments))
        for g, (idx, i, jj, y, x) in arrays.items():
            fit = fits[g]
            pi, pj, pt = predict_proba(fit, i, jj, x[:, None] if with_position else None)
            e = eta[ann[idx]]
            p_y, p_f = _prob_of(pi, pj, pt, y), _prob_of(pi, pj, pt, _flip(y))
            new_r[idx] = np.where(y == TIE, 1.0, e * p_y / np.maximum(e * p_y + (1 - e) * p_f, 1e-300))
        r = new_r
        n_wins = np.bincount(ann, wins.astype(float), len(annotators))
        faithful = np.bincount(ann, np.where(wins, r, 0.0), len(annotators))
        new_eta = np.clip((faithful + prior[0]) / (n_wins + prior[0] + prior[1]), *RELIABILITY_RANGE)
        converged = np.max(np.abs(new_eta - eta)) < 1e-4
        eta = new_eta
        if converged:
            break
    blocks = {}
    for g, (idx, i, jj, _, x) in arrays.items():
        fit = fits[g]
        k = len(players_of[g])
        d = fit.scores[i] - fit.scores[jj]
        if with_position and fit.coef.size:
            d = d + x * fit.coef[0]
        info = fisher_margin(d, fit.nu, eta[ann[idx]])
        hess = alpha * np.eye(k)
        np.add.at(hess, (i, i), info)
        np.add.at(hess, (jj, jj), info)
        np.add.at(hess, (i, jj), -info)
        np.add.at(hess, (jj, i), -info)
        cov = _centre(np.linalg.inv(hess))
        position = float(fit.coef[0]) if with_position and fit.coef.size else 0.0
        position_sd = float(math.sqrt(max(covariance(fit)[k, k], 0.0))) if with_position and fit.coef.size else 0.0
        blocks[g] = _block(players_of[g], fit.scores, cov, fit.nu, position, position_sd, len(idx))
    if level == "system":
        out["system"] = blocks[""]
    else:
        out["candidate"] = blocks
    out["reliability"] = {a: float(eta[n]) for n, a in enumerate(annotators)}
    return out


# --- reading a block at choice time ----------------------------------------------------------


def pair_moments(
    block: Mapping[str, Any] | None, left: Sequence[Hashable], right: Sequence[Hashable], prior_var: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """(mean margin, variance of the margin, nu) of each pair (left[n], right[n]) under a
    block's posterior. A player the block has never seen gets mean 0 and variance
    `prior_var`, independent of everybody else."""
    left_idx, right_idx, mu, var, nu = _lookup(block, left, right, prior_var)
    cov = _cov_of(block)
    d = mu[left_idx] - mu[right_idx]
    v = var[left_idx] + var[right_idx]
    both = (left_idx < len(cov)) & (right_idx < len(cov))
    if both.any():
        li, ri = left_idx[both], right_idx[both]
        v[both] -= 2 * cov[li, ri]
    return d, np.maximum(v, 1e-12), nu


def _cov_of(block) -> np.ndarray:
    return np.zeros((0, 0)) if not block else np.asarray(block["cov"], dtype=float)


def _lookup(block, left, right, prior_var):
    """Index every name into the block's players, unseen names after them."""
    players = list(block["players"]) if block else []
    index = {p: n for n, p in enumerate(players)}
    extra: dict[Hashable, int] = {}
    for name in (*left, *right):
        if name not in index and name not in extra:
            extra[name] = len(players) + len(extra)
    index.update(extra)
    k = len(players)
    mu = np.zeros(k + len(extra))
    var = np.full(k + len(extra), float(prior_var))
    if block:
        mu[:k] = np.asarray(block["scores"], dtype=float)
        var[:k] = np.diag(np.asarray(block["cov"], dtype=float))
    left_idx = np.fromiter((index[p] for p in left), dtype=np.int64, count=len(left))
    right_idx = np.fromiter((index[p] for p in right), dtype=np.int64, count=len(right))
    nu = float(block["nu"]) if block else 0.0
    return left_idx, right_idx, mu, var, nu
