"""Simulated studies for comparing strategies. Pure: numpy, prefstats and the strategy
objects themselves; no Django.

A `World` has latent Bradley–Terry strengths for K systems, N items whose candidates'
qualities scatter around their system's strength (per-item noise), candidate lengths and
automatic-judge scores, and annotators who answer through a Davidson model with position
bias and optional length bias, some of them flipping answers (reliability eta < 1) or
answering at random (spammers, eta = 0.5).

`run_pure` drives annotators through a registered strategy with an in-memory pool built
the way the assignment service builds it (a window of the strategy's `pool_size` eligible units in random
key order, or fewest-judged first; no unit twice for an annotator, none beyond
redundancy) and the strategy's own refits every `refit_every` judgments, so the benchmark
exercises the same strategy code as production, fast. The `simulate` management command
drives the same `World` through the real services and database instead.

Metrics are computed at checkpoints. Ranking milestones use the strategy's own model when
it has one (active-bt: BT; crowd-bt: Crowd-BT), else the BT with ties and position; interval
coverage and the position effect always use the fit the platform reports (`report_fit`:
weighted by 1/propensity, cluster-robust intervals), since those are the intervals a
researcher sees, whatever strategy collected the data.
"""

from __future__ import annotations

import inspect
import math
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations
from typing import Any

import numpy as np

from elicitation.state import A_WINS, B_WINS, TIE, Judgment, fit_crowd, fit_systems
from elicitation.strategies import Context, UnitView, get_strategy
from prefstats.bt import fit_bt

POOL_SIZE = 200  # as elicitation.services.POOL_SIZE
Z95 = 1.959963984540054


@dataclass(frozen=True)
class WorldConfig:
    n_systems: int = 10
    gap: float = 0.2  # logits between adjacent systems (ignored when `gaps` is given)
    gaps: tuple[float, ...] = ()  # uneven spacing, n_systems - 1 values
    n_items: int = 200
    item_sd: float = 0.5  # sd of a candidate's quality around its system's strength
    n_annotators: int = 20
    spammer_share: float = 0.15  # answer at random (eta = 0.5)
    reliability: tuple[float, float] = (0.85, 1.0)  # eta of the others, uniform in this range
    position_bias: float = 0.3  # logit advantage of the candidate shown first
    tie_nu: float = 0.3  # Davidson tie parameter (0: no ties)
    length_bias: float = 0.0  # logit advantage per 100 characters of extra length
    length_by_system: float = 0.0  # sd (characters) of the systems' mean lengths
    redundancy: int = 3

    def strengths(self) -> np.ndarray:
        gaps = np.asarray(self.gaps if self.gaps else [self.gap] * (self.n_systems - 1), dtype=float)
        s = np.concatenate([[0.0], np.cumsum(gaps)])
        return s - s.mean()


@dataclass(frozen=True, eq=False)
class World:
    config: WorldConfig
    systems: tuple[str, ...]
    strengths: np.ndarray  # (K,) latent, centred
    quality: np.ndarray  # (N, K) latent quality of each item's candidate of each system
    lengths: np.ndarray  # (N, K) characters
    judges: tuple[tuple[dict[str, float], ...], ...]  # [item][system] -> judge scores
    eta: np.ndarray  # (A,) reliability of each annotator
    units: np.ndarray  # (U, 3): item, system a, system b (a < b, the pairwise task's order)

    @property
    def n_units(self) -> int:
        return int(self.units.shape[0])

    def candidate_id(self, item: int, system: int) -> int:
        return item * len(self.systems) + system + 1


def make_world(config: WorldConfig, rng: np.random.Generator) -> World:
    k, n = config.n_systems, config.n_items
    strengths = config.strengths()
    quality = strengths[None, :] + config.item_sd * rng.standard_normal((n, k))
    mean_len = 400 + config.length_by_system * rng.standard_normal(k)
    lengths = np.maximum(20, np.round(mean_len[None, :] + 80 * rng.standard_normal((n, k)))).astype(int)
    # Two judges: a metric (quality + noise) and a reward model that also likes length.
    metric = quality + 0.6 * rng.standard_normal((n, k))
    rm = 2.0 * quality + 0.8 * (lengths - 400) / 100 + 1.2 * rng.standard_normal((n, k))
    judges = tuple(
        tuple({"metric": float(metric[i, s]), "rm/sim": float(rm[i, s])} for s in range(k)) for i in range(n)
    )
    spam = rng.random(config.n_annotators) < config.spammer_share
    eta = np.where(spam, 0.5, rng.uniform(*config.reliability, config.n_annotators))
    units = np.array([(i, a, b) for i in range(n) for a, b in combinations(range(k), 2)], dtype=np.int64)
    systems = tuple(f"sys-{s:02d}" for s in range(k))
    return World(config, systems, strengths, quality, lengths, judges, eta, units)


def _davidson(d: np.ndarray, nu: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h = np.asarray(d, dtype=float) / 2
    z = np.exp(h) + np.exp(-h) + nu
    return np.exp(h) / z, np.exp(-h) / z, nu / z


def respond(world: World, annotator: int, item: int, a: int, b: int, a_first: bool, rng: np.random.Generator) -> int:
    """The simulated annotator's outcome, from a's side: 1 a, 2 b, 0 tie."""
    c = world.config
    d = world.quality[item, a] - world.quality[item, b]
    d += c.length_bias * (world.lengths[item, a] - world.lengths[item, b]) / 100
    d += c.position_bias if a_first else -c.position_bias
    pa, pb, _ = _davidson(np.array(d), c.tie_nu)
    u = rng.random()
    outcome = A_WINS if u < pa else B_WINS if u < pa + pb else TIE
    if outcome != TIE and rng.random() > world.eta[annotator]:
        outcome = A_WINS + B_WINS - outcome
    return outcome


_OUTCOME_TABLES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _outcome_table(world: World, reliable: bool) -> tuple[np.ndarray, ...]:
    """Exact outcome probabilities of every (pair, shown-first side, outcome), averaged
    over the world's items and annotators; computed once per world."""
    cached = _OUTCOME_TABLES.setdefault(world, {})
    if reliable not in cached:
        c = world.config
        eta = np.ones_like(world.eta) if reliable else world.eta
        rows = []
        for a, b in combinations(range(c.n_systems), 2):
            base = world.quality[:, a] - world.quality[:, b]
            base = base + c.length_bias * (world.lengths[:, a] - world.lengths[:, b]) / 100
            for sign in (1.0, -1.0):
                pa, pb, pt = _davidson(base + sign * c.position_bias, c.tie_nu)
                ra = (eta[:, None] * pa[None, :] + (1 - eta[:, None]) * pb[None, :]).mean()
                rb = (eta[:, None] * pb[None, :] + (1 - eta[:, None]) * pa[None, :]).mean()
                rows += [(a, b, A_WINS, sign, ra), (a, b, B_WINS, sign, rb), (a, b, TIE, sign, pt.mean())]
        table = np.array(rows)
        cached[reliable] = (table[:, 0].astype(int), table[:, 1].astype(int), table[:, 2].astype(int), table[:, 3], table[:, 4])
    return cached[reliable]


def population_truth(world: World, reliable: bool = False, design: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """What a BT-with-ties-and-position fit converges to with unlimited uniform data from
    this world: scores and position effect fitted to the exact outcome probabilities
    averaged over items and annotators (`reliable`: as if every annotator told the truth,
    the target of Crowd-BT). Item noise and random answers shrink the latent scale; this
    is the truth the intervals are checked against. The ranking is the latent one.

    BT is only an approximation of such a world, so what a fit converges to depends a
    little on which pairs are compared: `design` (K, K) weights the pairs as a strategy
    did (default: every pair alike, i.e. uniform sampling)."""
    c = world.config
    i, j, y, x, w = _outcome_table(world, reliable)
    if design is not None:
        w = w * (design[i, j] + design[j, i])
    fit = fit_bt(
        i, j, y, c.n_systems,
        weights=w / np.sum(w) * 1e6, covariates=x[:, None], alpha=1e-6, ties=c.tie_nu > 0,
    )
    return np.asarray(fit.scores), float(fit.coef[0])


# --- metrics ---------------------------------------------------------------------------------


def kendall_tau(estimate: np.ndarray, truth: np.ndarray) -> float:
    """Kendall tau-a; the truth has no ties, a tie in the estimate counts 0."""
    i, j = np.triu_indices(len(truth), 1)
    return float(np.mean(np.sign(estimate[i] - estimate[j]) * np.sign(truth[i] - truth[j])))


@dataclass(frozen=True)
class Checkpoint:
    n: int  # judgments so far
    tau: float
    separated: bool  # every adjacent pair (true order) has a 95% interval of its difference excluding 0, right sign
    covered: float  # share of systems whose 95% interval holds the population truth (uniform design)
    covered_design: float  # the same, against the population truth under the design this run used
    position: float  # estimated position effect (logits)
    half_width: float = math.nan  # mean half-width of the reported 95% intervals (logits)


def _system_view(block: Mapping[str, Any] | None, world: World, cov_key: str = "cov"):
    """(scores, variances, covariance, seen) over world.systems from a fitted block."""
    k = len(world.systems)
    scores, var, cov = np.zeros(k), np.full(k, np.inf), np.zeros((k, k))
    index = {p: m for m, p in enumerate(block["players"])} if block else {}
    seen = np.array([s in index for s in world.systems])
    if seen.any():
        pos = [index[s] for s in world.systems if s in index]
        full = np.asarray(block[cov_key])
        scores[seen] = np.asarray(block["scores"])[pos]
        cov[np.ix_(seen, seen)] = full[np.ix_(pos, pos)]
        var[seen] = np.diag(full)[pos]
    return scores, var, cov, seen


def evaluate(
    ranking: Mapping[str, Any] | None,
    report: Mapping[str, Any] | None,
    world: World,
    truth: np.ndarray,
    n: int,
    design_truth: np.ndarray | None = None,
    intervals: bool = True,
) -> Checkpoint:
    """Ranking milestones from the strategy's own model (`ranking`); interval coverage and
    position from the BT-with-ties-and-position fit the platform reports (`report`), with
    its cluster-robust intervals when it has them (see `report_fit`). `intervals=False`:
    the ranking only (coverage, position and half-width NaN: not measured here)."""
    scores, var, cov, seen = _system_view(ranking, world)
    order = np.argsort(world.strengths)
    lo, hi = order[:-1], order[1:]
    sd_diff = np.sqrt(np.maximum(var[hi] + var[lo] - 2 * cov[hi, lo], 0))
    separated = bool(seen.all() and np.all(scores[hi] - scores[lo] - Z95 * sd_diff > 0))
    tau = kendall_tau(scores, world.strengths) if seen.all() else 0.0
    if not intervals:
        return Checkpoint(n, tau, separated, math.nan, math.nan, math.nan, math.nan)
    robust = bool(report) and "cov_robust" in report
    r_scores, r_var, _, r_seen = _system_view(report, world, "cov_robust" if robust else "cov")
    crit = float(report["crit"]) if robust else Z95

    def coverage(target: np.ndarray | None) -> float:
        if target is None:
            return math.nan
        if not r_seen.all():
            return 0.0
        return float(np.mean(np.abs(r_scores - (target - target.mean())) <= crit * np.sqrt(r_var)))

    position = float(report.get("position", 0.0)) if report else 0.0
    half_width = float(np.mean(crit * np.sqrt(r_var))) if r_seen.all() else math.nan
    return Checkpoint(n, tau, separated, coverage(truth), coverage(design_truth), position, half_width)


@dataclass
class Run:
    strategy: str
    checkpoints: list[Checkpoint] = field(default_factory=list)
    propensities: list[float] = field(default_factory=list)
    judgments: int = 0
    estimator: str = "bt"
    truth_position: float = 0.0

    def first(self, test) -> int | None:
        for c in self.checkpoints:
            if test(c):
                return c.n
        return None

    def held(self, test, until: int | None = None) -> int | None:
        """Judgments from which `test` holds at every later checkpoint (None: not at the end),
        as if the run had stopped after `until` judgments (default: its end)."""
        start = None
        for c in self.checkpoints:
            if until is not None and c.n > until:
                break
            if test(c):
                start = c.n if start is None else start
            else:
                start = None
        return start


# --- the pure driver ------------------------------------------------------------------------


class Pool:
    """The assignment service's pool, in memory: eligible units (fewer than `redundancy`
    judgments, never held by this annotator), a window of the strategy's `pool_size`
    (as the service) in random-key order from a random start, or fewest-judged first."""

    def __init__(self, world: World, rng: np.random.Generator):
        self.world = world
        self.rand = rng.random(world.n_units)
        self.by_rand = np.argsort(self.rand)
        self.rand_sorted = self.rand[self.by_rand]
        self.n_taken = np.zeros(world.n_units, dtype=np.int64)
        self.held = np.zeros((world.config.n_annotators, world.n_units), dtype=bool)
        self._views: dict[tuple[int, int], UnitView] = {}

    def eligible(self, annotator: int) -> np.ndarray:
        return (self.n_taken < self.world.config.redundancy) & ~self.held[annotator]

    def window(self, annotator: int, order: str, rng: np.random.Generator, size: int = POOL_SIZE) -> np.ndarray:
        ok = self.eligible(annotator)
        if order == "fewest":
            idx = np.flatnonzero(ok)
            return idx[np.lexsort((self.rand[idx], self.n_taken[idx]))][:size]
        ok_sorted = ok[self.by_rand]
        start = int(np.searchsorted(self.rand_sorted, rng.random()))
        after = np.flatnonzero(ok_sorted[start:])[:size] + start
        if len(after) < size:
            after = np.concatenate([after, np.flatnonzero(ok_sorted[:start])[: size - len(after)]])
        return self.by_rand[after]

    def view(self, u: int) -> UnitView:
        key = (u, int(self.n_taken[u]))
        v = self._views.get(key)
        if v is None:
            w = self.world
            item, a, b = (int(x) for x in w.units[u])
            v = UnitView(
                id=u,
                item_id=item,
                candidate_ids=(w.candidate_id(item, a), w.candidate_id(item, b)),
                systems=(w.systems[a], w.systems[b]),
                lengths=(int(w.lengths[item, a]), int(w.lengths[item, b])),
                n_taken=int(self.n_taken[u]),
                judges=(w.judges[item][a], w.judges[item][b]),
            )
            self._views[key] = v
        return v

    def take(self, annotator: int, u: int) -> None:
        self.n_taken[u] += 1
        self.held[annotator, u] = True


def judgment_of(world: World, u: int, annotator: int, a_first: bool, outcome: int) -> Judgment:
    item, a, b = (int(x) for x in world.units[u])
    return Judgment(
        item_id=item,
        a=world.candidate_id(item, a),
        b=world.candidate_id(item, b),
        system_a=world.systems[a],
        system_b=world.systems[b],
        outcome=outcome,
        a_first=a_first,
        annotator_id=annotator,
        len_a=int(world.lengths[item, a]),
        len_b=int(world.lengths[item, b]),
    )


def estimator_of(strategy_name: str, params: Mapping[str, Any]) -> str:
    if strategy_name == "crowd-bt" and params.get("level", "system") == "system":
        return "crowd"
    return "bt"


def estimate(kind: str, judgments: Sequence[Judgment]) -> dict[str, Any] | None:
    if kind == "crowd":
        return fit_crowd(judgments, "system").get("system")
    return fit_systems(judgments)


UNWEIGHTED = ("uniform", "balanced")  # as annotation.report: their propensities carry no design information


def report_fit(strategy_name: str, judgments: Sequence[Judgment], propensities: Sequence[float]) -> dict[str, Any] | None:
    """The system ranking as the platform reports it: judgments of actively chosen units
    weighted by 1/propensity (so the estimate targets what uniform sampling converges to,
    however the strategy chose), with cluster-robust intervals (items × annotators)."""
    weights = None if strategy_name in UNWEIGHTED else 1.0 / np.asarray(propensities, dtype=float)
    return fit_systems(judgments, weights=weights, robust=True)


def run_pure(
    strategy_name: str,
    world: World,
    rng: np.random.Generator,
    *,
    params: Mapping[str, Any] | None = None,
    budget: int = 3000,
    refit_every: int = 20,
    checkpoint_every: int = 50,
    report_every: int | None = None,
) -> Run:
    """Drive `budget` judgments through a registered strategy; ranking metrics every
    checkpoint, interval coverage and position every `report_every` judgments (a multiple
    of checkpoint_every; default: every checkpoint) and at the last checkpoint. The
    report's cluster-robust fit is most of a run's cost and grows with the judgments, while
    its coverage is an average over checkpoints that share most of their data."""
    report_every = report_every or checkpoint_every
    strategy = get_strategy(strategy_name)
    params = strategy.parse_params(dict(params or {}))
    kind = estimator_of(strategy_name, params)
    truth, truth_position = population_truth(world)
    pool = Pool(world, rng)
    fit_state = getattr(strategy, "fit_state", None)
    warm = fit_state is not None and "previous" in inspect.signature(fit_state).parameters
    own_model = kind == "crowd" or (strategy_name == "active-bt" and params.get("level") == "system")
    state: dict[str, Any] = {}
    judgments: list[Judgment] = []
    design = np.zeros((world.config.n_systems, world.config.n_systems))
    run = Run(strategy_name, estimator=kind, truth_position=truth_position)
    annotators = np.arange(world.config.n_annotators)
    for t in range(1, budget + 1):
        units = np.array([], dtype=np.int64)
        for annotator in rng.permutation(annotators):
            units = pool.window(int(annotator), strategy.pool_order, rng, getattr(strategy, "pool_size", POOL_SIZE))
            if len(units):
                break
        if not len(units):
            break  # every unit judged `redundancy` times
        annotator = int(annotator)
        views = [pool.view(int(u)) for u in units]
        ctx = Context(annotator_id=annotator, redundancy=world.config.redundancy, params=params, state=state)
        choice = strategy.choose(ctx, views, rng)
        u = int(choice.unit_id)
        if u not in set(units.tolist()) or not 0 < choice.propensity <= 1:
            raise AssertionError(f"{strategy_name} chose {u} with propensity {choice.propensity}")
        run.propensities.append(choice.propensity)
        pool.take(annotator, u)
        item, a, b = (int(x) for x in world.units[u])
        design[a, b] += 1
        a_first = bool(rng.random() < 0.5)  # the service randomises display order
        judgments.append(judgment_of(world, u, annotator, a_first, respond(world, annotator, item, a, b, a_first, rng)))
        refit = fit_state is not None and t % refit_every == 0
        if refit:
            state = fit_state(judgments, params, previous=state) if warm else fit_state(judgments, params)
        if t % checkpoint_every == 0:
            ranking = state.get("system") if own_model and refit else estimate(kind, judgments)
            if t % report_every == 0 or t + checkpoint_every > budget:
                report = report_fit(strategy_name, judgments, run.propensities)
                design_truth, _ = population_truth(world, design=design)
                run.checkpoints.append(evaluate(ranking, report, world, truth, t, design_truth))
            else:
                run.checkpoints.append(evaluate(ranking, None, world, truth, t, intervals=False))
        run.judgments = t
    return run


def summarize(run: Run, threshold: float = 0.9, coverage_from: int | None = None) -> dict[str, Any]:
    """Milestones of one run (judgments; None = not within the run), interval coverage
    averaged over checkpoints from `coverage_from` judgments on (default: the last 3/4)."""
    if coverage_from is None:
        coverage_from = run.judgments // 4
    reported = [c for c in run.checkpoints if not math.isnan(c.position)]  # see run_pure's report_every
    late = [c.covered for c in reported if c.n >= coverage_from]
    late_design = [c.covered_design for c in reported if c.n >= coverage_from]
    late_width = [c.half_width for c in reported if c.n >= coverage_from and not math.isnan(c.half_width)]
    return {
        "reach_tau90": run.first(lambda c: c.tau >= threshold),
        "hold_tau90": run.held(lambda c: c.tau >= threshold),
        "reach_tau100": run.first(lambda c: c.tau >= 1.0),
        "hold_tau100": run.held(lambda c: c.tau >= 1.0),
        "separated": run.first(lambda c: c.separated),
        "coverage": float(np.mean(late)) if late else math.nan,
        "coverage_design": float(np.mean(late_design)) if late_design else math.nan,
        "ci_half_width": float(np.mean(late_width)) if late_width else math.nan,
        "final_tau": run.checkpoints[-1].tau if run.checkpoints else math.nan,
        "position_estimate": reported[-1].position if reported else math.nan,
        "position_truth": run.truth_position,
        "min_propensity": float(min(run.propensities)) if run.propensities else math.nan,
        "judgments": run.judgments,
    }


def with_overrides(config: WorldConfig, **changes: Any) -> WorldConfig:
    return replace(config, **changes)


# --- tables ----------------------------------------------------------------------------------

METRICS = (
    ("reach_tau90", "reach τ≥0.9"),
    ("hold_tau90", "hold τ≥0.9"),
    ("hold_tau100", "hold τ=1"),
    ("separated", "adjacent CIs separate"),
)


def aggregate(rows: Sequence[Mapping[str, Any]], budget: int) -> dict[str, dict[str, Any]]:
    """Per strategy, over seeds: mean and median judgments for each milestone (a run that
    never got there counts as `budget` and is reported as censored), coverage, position."""
    out: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(r["strategy"] for r in rows):
        mine = [r for r in rows if r["strategy"] == name]
        agg: dict[str, Any] = {"runs": len(mine)}
        for key, _ in METRICS:
            values = [r[key] if r[key] is not None else budget for r in mine]
            agg[key] = {
                "mean": float(np.mean(values)),
                "median": float(np.median(values)),
                "censored": sum(r[key] is None for r in mine),
            }
        for key in ("coverage", "coverage_design", "ci_half_width", "final_tau", "position_estimate", "position_truth",
                    "min_propensity"):
            values = [r[key] for r in mine if r.get(key) is not None and not math.isnan(r[key])]
            agg[key] = float(np.mean(values)) if values else math.nan
        out[name] = agg
    # Ratios pair each strategy with uniform on the seeds both ran (strategies may run on
    # different numbers of seeds).
    def by_seed(name, key):
        return {r["seed"]: (r[key] if r[key] is not None else budget) for r in rows if r["strategy"] == name}

    if "uniform" in out:
        for name, agg in out.items():
            for key, _ in METRICS:
                base, mine = by_seed("uniform", key), by_seed(name, key)
                common = sorted(set(base) & set(mine))
                b, m = [base[s] for s in common], [mine[s] for s in common]
                if common and np.mean(b) > 0:
                    agg[key]["ratio_mean"] = float(np.mean(m) / np.mean(b))
                    agg[key]["ratio_median"] = float(np.median(m) / np.median(b)) if np.median(b) else math.nan
    return out


def _cell(stat: Mapping[str, Any], runs: int) -> str:
    text = f"{stat['mean']:.0f}"
    if stat["censored"]:
        text = f"≥{text} ({stat['censored']}/{runs} not reached)"
    if "ratio_mean" in stat:
        text += f" ×{stat['ratio_mean']:.2f}"
    return text


def markdown_table(agg: Mapping[str, Mapping[str, Any]]) -> str:
    """One row per strategy: mean judgments to each milestone (×ratio to uniform's mean),
    interval coverage, position effect estimated vs true."""
    head = ["strategy", *(label for _, label in METRICS), "CI coverage", "position est / true"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, a in agg.items():
        cells = [name, *(_cell(a[key], a["runs"]) for key, _ in METRICS)]
        cells.append(f"{a['coverage']:.3f}")
        cells.append(f"{a['position_estimate']:.3f} / {a['position_truth']:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
