"""`active-bt`: ask for the comparison that most reduces the uncertainty of a Bradley–Terry
(with ties) model, over systems or over the candidates of each item, with exploration.

params:
- epsilon (0.1): share of uniformly random choices; every unit keeps probability >= eps/|pool|.
- level ("system"): "system" ranks systems (a unit counts as a comparison of its two
  candidates' systems); "candidate" ranks the candidates within each item.
- criterion ("misorder"): what "informative" means, see elicitation/acquisition.py:
  "misorder" = expected drop of the expected number of misordered pairs if the pair got a
  block of MISORDER_HORIZON (100) more judgments: it targets the ranking itself, and looking
  a block ahead keeps it off pairs so close that such a block would not settle them either;
  "ranking" = expected information gain about the order of every pair (one judgment ahead);
  "eig" = expected information gain about all scores (D-optimal design);
  "adjacent" = expected drop of the variance of the differences between neighbours in the
  current ranking (A-optimal for the adjacent contrasts).
  In simulation (bench/results/elicitation.md) "misorder" holds the right ranking with the
  fewest judgments (goal setting: 0.54x uniform's on the bench's 144 seeds with runs of
  10000 judgments; with runs of 5000, 0.60x on those seeds, 0.64x on 72 others, 0.86x and
  0.93x of "ranking"'s);
  "ranking" is next; both stop asking about a pair once it looks settled, so the gaps they
  leave behind are somewhat overestimated (the report's reweighted fit corrects for that).
  Because it looks a block ahead, one more judgment lowers a pair's "misorder" gain only a
  little, and its batch plans (below) are less spread than "ranking"'s.
  "adjacent" keeps asking about neighbours whatever their estimated gap: as fast when
  systems are evenly spaced and clean, slower with uneven gaps and in small studies. "eig"
  spreads judgments over all pairs: in between.

The posterior is the Laplace approximation of the last refit (ctx.state, see
elicitation/state.py); the first-shown position is marginalised over (display order is
random); a system or candidate the state has not seen is unknown (mean 0, prior variance),
so it is asked about early. With no state every unit scores the same: uniform choice.

Between two refits the state does not move, and a plain argmax would send every annotator
to the same pair until the next refit. So the refit also plans the next `PLAN_LENGTH`
comparisons (system level): greedily, each pick updating the covariance as if it had been
judged (a Gaussian posterior's covariance does not depend on the outcome). The greedy part
of the choice then draws a pair with the planned frequencies, among the pairs the pool
offers, and a unit of that pair uniformly:

    G(u) = w(pair of u) / sum of w over the pool's distinct pairs / (units of that pair in the pool)

When the pool offers none of the planned pairs, or a system the state has not seen, G is
uniform over the top-scoring units instead. Either way the propensity is exact.

The pool is a random window of POOL_SIZE (64) eligible units. In simulation (10 systems,
45 pairs) 64 ranks as fast as 200 did, and the floor eps/|pool| of the propensity is higher
(the largest 1/propensity weights of the report smaller); the service reads a quarter of the
rows on every request.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np

from elicitation.acquisition import adjacent_variance_gain, eig, misorder_gain, ranking_gain
from elicitation.state import ALPHA_CANDIDATE, ALPHA_SYSTEM, Judgment, fisher_margin, fit_candidates, fit_systems
from elicitation.strategies.base import Context, UnitView
from elicitation.strategies.registry import register
from elicitation.strategies.scored import ScoredStrategy, top_share

LEVELS = ("system", "candidate")
CRITERIA = ("misorder", "ranking", "eig", "adjacent")
PLAN_LENGTH = 20  # judgments between refits (elicitation.model_state.REFIT_EVERY)
MATRIX_FROM = 8  # players from which a pair table is stored as a matrix
POOL_SIZE = 64  # units offered per request (see the module docstring)
PLAN_CANDIDATES = 256  # pairs the plan chooses among after its first pick (all of them up to 23 players)

Pair = tuple[Hashable, Hashable]


def _posterior(block: Mapping[str, Any] | None, pairs: Sequence[Pair], prior_var: float):
    """Means, covariance and index arrays over the block's players plus any unseen ones."""
    players = list(block["players"]) if block else []
    index = {p: n for n, p in enumerate(players)}
    for pair in pairs:
        for name in pair:
            if name not in index:
                index[name] = len(index)
    k, n = len(players), len(index)
    mu = np.zeros(n)
    cov = np.eye(n) * prior_var
    nu, position = 0.0, 0.0
    if block:
        mu[:k] = block["scores"]
        cov[:k, :k] = block["cov"]
        nu, position = float(block["nu"]), float(block.get("position", 0.0))
    i = np.array([index[a] for a, _ in pairs], dtype=np.int64)
    j = np.array([index[b] for _, b in pairs], dtype=np.int64)
    return mu, cov, i, j, nu, position


def _information(mu, i, j, nu, position, eta) -> np.ndarray:
    """Fisher information of one judgment about each margin, shown in random order."""
    d = mu[i] - mu[j]
    return 0.5 * (fisher_margin(d + position, nu, eta) + fisher_margin(d - position, nu, eta))


def _criterion(criterion: str, mu, cov, i, j, info) -> np.ndarray:
    if criterion == "eig":
        return eig(cov[i, i] + cov[j, j] - 2 * cov[i, j], info)
    if criterion == "adjacent":
        return adjacent_variance_gain(mu, cov, i, j, info)
    if criterion == "misorder":
        return misorder_gain(mu, cov, i, j, info)
    return ranking_gain(mu, cov, i, j, info)


def score_pairs(block, pairs: Sequence[Pair], prior_var: float, criterion: str, eta: float) -> np.ndarray:
    """Score distinct pairs of players under one block's posterior."""
    mu, cov, i, j, nu, position = _posterior(block, pairs, prior_var)
    return _criterion(criterion, mu, cov, i, j, _information(mu, i, j, nu, position, eta))


def plan_pairs(
    block: Mapping[str, Any], criterion: str, eta: float = 1.0, length: int = PLAN_LENGTH, first: np.ndarray | None = None
) -> dict[Pair, float]:
    """The next `length` comparisons, chosen greedily, each one updating the covariance
    as if judged (rank-one: cov -= cov g g' cov I / (1 + I g' cov g)); as frequencies.
    With more than PLAN_CANDIDATES pairs (over 23 players) the later picks are taken among
    the PLAN_CANDIDATES best pairs of the first: a comparison only lowers the others' gains
    a little, and this keeps the plan of 100 systems to about a second instead of ~10 s.
    `first`: the criterion over every pair (in combinations() order) when the caller has it
    (the pair table's), so that it is not computed twice."""
    pairs = list(combinations(sorted(block["players"]), 2))
    if not pairs:
        return {}
    mu, cov, i, j, nu, position = _posterior(block, pairs, 1.0)
    info = _information(mu, i, j, nu, position, eta)
    counts = np.zeros(len(pairs))
    if len(pairs) > PLAN_CANDIDATES:
        gain = _criterion(criterion, mu, cov, i, j, info) if first is None else np.asarray(first)
        best = np.sort(np.argsort(-gain, kind="stable")[:PLAN_CANDIDATES])
        pairs, i, j, info, counts = [pairs[c] for c in best], i[best], j[best], info[best], counts[best]
    for _ in range(length):
        gain = _criterion(criterion, mu, cov, i, j, info)
        c = int(np.argmax(gain))
        counts[c] += 1
        col = cov[:, i[c]] - cov[:, j[c]]
        cov = cov - np.outer(col, col) * (info[c] / (1.0 + info[c] * (col[i[c]] - col[j[c]])))
    return {pairs[c]: float(counts[c] / length) for c in np.flatnonzero(counts)}


def pair_table(
    block: Mapping[str, Any], prior_var: float, criterion: str, eta: float = 1.0, values: np.ndarray | None = None
) -> dict[Any, Any]:
    """The score of every pair of a block's players, computed once per refit: {pair: score},
    or from MATRIX_FROM players on {"players": sorted names, "index": {name: row},
    "matrix": (k, k) symmetric scores}, since every next-unit request unpickles the table and 4950 dict entries (100
    systems) cost it milliseconds where one array costs microseconds. `values`: the scores
    of every pair (combinations() order) when the caller has them."""
    players = sorted(block["players"])
    pairs = list(combinations(players, 2))
    if not pairs:
        return {}
    if values is None:
        values = score_pairs(block, pairs, prior_var, criterion, eta)
    if len(players) < MATRIX_FROM:
        return dict(zip(pairs, values.tolist(), strict=True))
    a, b = np.triu_indices(len(players), 1)  # the order of combinations()
    matrix = np.zeros((len(players), len(players)))
    matrix[a, b] = matrix[b, a] = values
    return {"players": tuple(players), "index": {p: n for n, p in enumerate(players)}, "matrix": matrix}


def _from_table(table: Mapping[Any, Any] | None, pairs: Sequence[Pair]) -> np.ndarray | None:
    """The table's scores of these (canonical) pairs, or None when it lacks any of them."""
    if not table:
        return None
    if "matrix" in table:
        index = table.get("index") or {p: n for n, p in enumerate(table["players"])}
        a = [index.get(x) for x, _ in pairs]
        b = [index.get(y) for _, y in pairs]
        if None in a or None in b:
            return None
        return np.asarray(table["matrix"])[a, b]
    if any(pair not in table for pair in pairs):
        return None
    return np.array([table[pair] for pair in pairs], dtype=float)


def with_tables(state: dict[str, Any], level: str, criterion: str, etas: Mapping[Hashable, float]) -> dict[str, Any]:
    """Add what the next-unit request looks up to a fitted state, for each reliability in
    `etas` (key "*": everybody; or an annotator id): state["tables"][key][group] = score
    of every pair of the group (group "" = systems, or an item id), and at system level
    state["plans"][key] = planned pair frequencies."""
    if level == "system":
        groups = {"": state["system"]} if state.get("system") else {}
        prior_var = 1.0 / ALPHA_SYSTEM
    else:
        groups = dict(state.get("candidate") or {})
        prior_var = 1.0 / ALPHA_CANDIDATE
    state["tables_for"] = (level, criterion)
    state["tables"] = {}
    if level == "system" and state.get("system"):
        block = state["system"]
        pairs = list(combinations(sorted(block["players"]), 2))
        state["plans"] = {}
        for key, eta in etas.items():
            values = score_pairs(block, pairs, prior_var, criterion, eta) if pairs else None
            state["tables"][key] = {"": pair_table(block, prior_var, criterion, eta, values)}
            state["plans"][key] = plan_pairs(block, criterion, eta, first=values)
        return state
    state["tables"] = {
        key: {g: pair_table(block, prior_var, criterion, eta) for g, block in groups.items()} for key, eta in etas.items()
    }
    return state


def _groups(pool: Sequence[UnitView], level: str) -> dict[Hashable, list[tuple[int, Pair]]]:
    """The pool's pairs (canonical) by group ("" = systems, or an item id), with each
    unit's row; a unit that is not a pair of two different systems (or of two candidates)
    is left out. Runs on every unit of the pool, on every request."""
    groups: dict[Hashable, list[tuple[int, Pair]]] = {}
    system = level == "system"
    for n, unit in enumerate(pool):
        if len(unit.candidate_ids) != 2:
            continue
        if system:
            if len(unit.systems) != 2:
                continue
            a, b = unit.systems
            if not a or not b or a == b:
                continue
            group: Hashable = ""
        else:
            (a, b), group = unit.candidate_ids, unit.item_id
        groups.setdefault(group, []).append((n, (a, b) if a <= b else (b, a)))
    return groups


def bt_unit_scores(
    state: Mapping[str, Any],
    pool: Sequence[UnitView],
    level: str,
    criterion: str,
    eta: float = 1.0,
    key: Hashable = "*",
    groups: Mapping[Hashable, list[tuple[int, Pair]]] | None = None,
) -> np.ndarray:
    """Score every unit of the pool; units that are not a pair score 0. Scores come from
    the state's tables when they hold every pair asked about, else are computed here.
    `groups`: `_groups(pool, level)` when the caller has it already."""
    scores = np.zeros(len(pool))
    tables = (state.get("tables") or {}).get(key, {}) if state.get("tables_for") == (level, criterion) else {}
    for group, members in (_groups(pool, level) if groups is None else groups).items():
        rows = [n for n, _ in members]
        pairs = [pair for _, pair in members]
        found = _from_table(tables.get(group), pairs)
        if found is None:
            if level == "system":
                block, prior_var = state.get("system"), 1.0 / ALPHA_SYSTEM
            else:
                block, prior_var = (state.get("candidate") or {}).get(group), 1.0 / ALPHA_CANDIDATE
            distinct = sorted(set(pairs))
            table = dict(zip(distinct, score_pairs(block, distinct, prior_var, criterion, eta).tolist(), strict=True))
            found = np.array([table[pair] for pair in pairs], dtype=float)
        scores[rows] = found
    return scores


def planned_weights(
    state: Mapping[str, Any],
    pool: Sequence[UnitView],
    level: str,
    criterion: str,
    key: Hashable = "*",
    groups: Mapping[Hashable, list[tuple[int, Pair]]] | None = None,
):
    """G over the pool from the state's plan, or None when the plan does not apply."""
    if level != "system" or state.get("tables_for") != (level, criterion) or not state.get("system"):
        return None
    plan = (state.get("plans") or {}).get(key)
    members = (_groups(pool, level) if groups is None else groups).get("")
    if not plan or not members:
        return None
    known = set(state["system"]["players"])
    if any(a not in known or b not in known for _, (a, b) in members):
        return None  # an unseen system: ask about it first (scores)
    units_of = Counter(pair for _, pair in members)
    total = sum(plan.get(pair, 0.0) for pair in units_of)
    if total <= 0:
        return None
    weights = np.zeros(len(pool))
    for n, pair in members:
        weights[n] = plan.get(pair, 0.0) / total / units_of[pair]
    return weights


def bt_greedy(state: Mapping[str, Any], pool: Sequence[UnitView], level: str, criterion: str, eta: float = 1.0) -> np.ndarray:
    """G of active-bt: the plan's frequencies where it applies, else uniform over the
    top-scoring units (the pool's pairs grouped once for both)."""
    groups = _groups(pool, level)
    planned = planned_weights(state, pool, level, criterion, groups=groups)
    if planned is not None:
        return planned
    return top_share(bt_unit_scores(state, pool, level, criterion, eta, groups=groups))


@register
class ActiveBT(ScoredStrategy):
    name = "active-bt"
    label = "Active Bradley–Terry: the most informative comparison next, with exploration"
    defaults = {"epsilon": 0.1, "level": "system", "criterion": "misorder"}
    choices = {"level": LEVELS, "criterion": CRITERIA}
    pool_size = POOL_SIZE

    def scores(self, ctx: Context, pool: Sequence[UnitView]) -> np.ndarray:
        params = self.params_of(ctx)
        return bt_unit_scores(ctx.state, pool, params["level"], params["criterion"])

    def greedy(self, ctx: Context, pool: Sequence[UnitView]) -> np.ndarray:
        params = self.params_of(ctx)
        return bt_greedy(ctx.state, pool, params["level"], params["criterion"])

    def fit_state(
        self, judgments: Sequence[Judgment], params: Mapping[str, Any], previous: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        params = {**self.defaults, **params}
        if params["level"] == "candidate":
            state = {"candidate": fit_candidates(judgments)}
        else:
            block = fit_systems(judgments)
            state = {"system": block} if block else {}
        return with_tables(state, params["level"], params["criterion"], {"*": 1.0})
