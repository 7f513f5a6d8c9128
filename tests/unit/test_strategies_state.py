"""The math under the active strategies, without a database: the fits a refit runs, the
acquisition criteria, the batch plan, and the pure simulator's pool rules."""

import itertools
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from elicitation.acquisition import adjacent_variance_gain, eig, misorder_gain, norm_cdf, ranking_gain, upper_tail  # noqa: E402
from elicitation.simulation import Pool, WorldConfig, kendall_tau, make_world, population_truth, run_pure  # noqa: E402
from elicitation.state import Judgment, fisher_margin, fit_candidates, fit_crowd, fit_systems, length_counts  # noqa: E402
from elicitation.strategies.active_bt import plan_pairs  # noqa: E402


@pytest.fixture(autouse=True)
def _export_root():
    yield


@pytest.fixture(autouse=True)
def _celery_in_process():
    yield


def simulated(strengths, n, seed=0, *, flip=None, position=0.0):
    """Judgments of systems s0..s{k-1}: BT with a position effect; annotator 9 flips all
    wins with probability `flip`."""
    rng = np.random.default_rng(seed)
    k = len(strengths)
    out = []
    for t in range(n):
        a, b = sorted(rng.choice(k, 2, replace=False))
        a_first = bool(rng.random() < 0.5)
        d = strengths[a] - strengths[b] + (position if a_first else -position)
        y = 1 if rng.random() < 1 / (1 + math.exp(-d)) else 2
        annotator = int(rng.integers(10))
        if annotator == 9 and flip is not None and rng.random() < flip:
            y = 3 - y
        out.append(Judgment(t, 100 * t + a, 100 * t + b, f"s{a}", f"s{b}", y, a_first, annotator))
    return out


def test_normal_tail_matches_erfc():
    x = np.linspace(0, 12, 4001)
    exact = np.array([0.5 * math.erfc(v / math.sqrt(2)) for v in x])
    assert np.all(np.abs(upper_tail(x) - exact) <= 2e-7 * exact)
    assert norm_cdf(np.array([-1.0, 0.0, 1.0])) == pytest.approx([0.158655254, 0.5, 0.841344746], abs=1e-7)


def test_fisher_information_of_a_margin():
    d = np.linspace(-4, 4, 9)
    p = 1 / (1 + np.exp(-d))
    assert fisher_margin(d, 0.0) == pytest.approx(p * (1 - p))  # plain BT
    assert fisher_margin(d, 0.0, 0.5) == pytest.approx(np.zeros_like(d), abs=1e-15)  # coin flips
    assert np.all(fisher_margin(d, 0.0, 0.8) < fisher_margin(d, 0.0, 0.95))
    # Davidson with ties: ((p_i + p_j) - (p_i - p_j)^2) / 4
    nu = 0.5
    pi, pj = np.exp(d / 2), np.exp(-d / 2)
    z = pi + pj + nu
    pi, pj = pi / z, pj / z
    assert fisher_margin(d, nu) == pytest.approx(((pi + pj) - (pi - pj) ** 2) / 4)


def test_system_fit_recovers_order_scale_and_position():
    strengths = [0.0, 0.5, 1.0, 1.5]
    block = fit_systems(simulated(strengths, 6000, position=0.4))
    assert block["players"] == ("s0", "s1", "s2", "s3")
    assert block["scores"] == pytest.approx(np.array(strengths) - 0.75, abs=0.12)
    assert block["position"] == pytest.approx(0.4, abs=0.1)
    sd = np.sqrt(np.diag(block["cov"]))
    assert np.all((sd > 0.02) & (sd < 0.1))
    assert block["cov"].sum(axis=0) == pytest.approx(np.zeros(4), abs=1e-9)  # centred scores


def test_candidate_fit_is_per_item():
    data = [Judgment(1, 10, 11, "a", "b", 1, True, 0), Judgment(1, 10, 11, "a", "b", 1, False, 1), Judgment(2, 20, 21, "a", "b", 2, True, 0)]
    blocks = fit_candidates(data)
    assert set(blocks) == {1, 2}
    assert blocks[1]["players"] == (10, 11) and blocks[1]["scores"][0] > 0
    assert blocks[2]["scores"][0] < 0


def test_crowd_fit_finds_the_annotator_who_flips_and_discounts_them():
    strengths = [0.0, 0.8, 1.6]
    data = simulated(strengths, 3000, flip=0.5)
    crowd = fit_crowd(data)
    eta = crowd["reliability"]
    # Reliability and the scale of the scores trade off when systems are close (only
    # (2 eta - 1) x margin is well identified), so the levels are soft; the contrast is not.
    assert eta[9] < 0.75
    assert eta[9] < min(eta[a] for a in range(9)) - 0.1
    order = np.argsort(crowd["system"]["scores"])
    assert [crowd["system"]["players"][i] for i in order] == ["s0", "s1", "s2"]


def test_length_counts_per_system_pair():
    data = [
        Judgment(1, 1, 2, "b", "a", 1, True, 0, len_a=10, len_b=5),
        Judgment(2, 3, 4, "a", "b", 1, True, 0, len_a=10, len_b=5),
        Judgment(3, 5, 6, "a", "b", 1, True, 0, len_a=7, len_b=7),
    ]
    assert length_counts(data) == {("a", "b"): [1, 1, 1]}


def test_criteria_prefer_the_uncertain_close_pair():
    mu = np.array([0.0, 0.05, 3.0])
    cov = np.diag([0.04, 0.04, 0.04])
    ci, cj = np.array([0, 0, 1]), np.array([1, 2, 2])
    info = fisher_margin(mu[ci] - mu[cj], 0.0)
    for gain in (ranking_gain(mu, cov, ci, cj, info), adjacent_variance_gain(mu, cov, ci, cj, info),
                 misorder_gain(mu, cov, ci, cj, info)):
        assert np.argmax(gain) == 0
        assert np.all(gain >= 0)
    assert np.argmax(eig(cov[ci, ci] + cov[cj, cj], info)) == 0


def test_ranking_gain_is_nil_when_every_order_is_settled():
    mu = np.array([0.0, 5.0, 10.0])
    cov = np.eye(3) * 0.01
    ci, cj = np.array([0, 1]), np.array([1, 2])
    assert np.all(ranking_gain(mu, cov, ci, cj, np.full(2, 0.2)) == 0)
    assert np.all(misorder_gain(mu, cov, ci, cj, np.full(2, 0.2)) == 0)


def test_misorder_gain_is_the_expected_drop_of_the_misordering_risk():
    # Two players: the target is the candidate itself. After h comparisons of information I
    # the variance shrinks by r = v^2 / (1/(h I) + v) and the mean moves by N(0, r): check
    # the 8-node quadrature against a fine grid integration of the same expectation.
    mu, cov = np.array([0.0, 0.3]), np.array([[0.05, -0.01], [-0.01, 0.04]])
    v = 0.05 + 0.04 + 0.02
    r = v**2 / (1 / (50 * 0.2) + v)
    z = np.linspace(-9, 9, 20001)
    density = np.exp(-z**2 / 2) / np.sqrt(2 * np.pi)
    after = np.sum(density * norm_cdf(-np.abs(0.3 + np.sqrt(r) * z) / np.sqrt(v - r))) * (z[1] - z[0])
    expected = float(norm_cdf(np.array(-0.3 / np.sqrt(v)))) - after
    got = misorder_gain(mu, cov, np.array([0]), np.array([1]), np.array([0.2]), horizon=50)
    assert expected > 0.01
    assert got[0] == pytest.approx(expected, rel=1e-4)


def test_misorder_gain_looks_ahead_where_one_judgment_would_not():
    # A pair at 1.5 sd: one judgment hardly moves its misordering risk, a block of them does,
    # and more so than for a pair at 4 sd.
    mu, cov = np.array([0.0, 0.3, 2.0]), np.diag([0.02, 0.02, 0.02])
    ci, cj, info = np.array([0, 1]), np.array([1, 2]), np.full(2, 0.2)
    one = misorder_gain(mu, cov, ci, cj, info, horizon=1)
    block = misorder_gain(mu, cov, ci, cj, info, horizon=100)
    assert block[0] > 10 * one[0] and block[0] > 5 * block[1]


def twelve_players():
    """Scores, covariance and every pair of a fit of 12 players, with a typical information."""
    block = fit_systems(simulated(list(np.linspace(0, 2, 12)), 500, seed=14))
    i, j = np.triu_indices(len(block["players"]), 1)
    return block["scores"], block["cov"], i, j, np.full(i.size, 0.2)


def test_misorder_gain_sums_over_the_most_uncertain_targets(monkeypatch):
    import elicitation.acquisition as acq

    whole = misorder_gain(*twelve_players())
    monkeypatch.setattr(acq, "MISORDER_TARGETS", 5)  # the 5 targets most likely misordered only
    few = misorder_gain(*twelve_players())
    assert np.all(few <= whole + 1e-15) and 0 < few.sum() < 0.9 * whole.sum()


@settings(max_examples=60, deadline=None)
@given(k=st.integers(2, 7), seed=st.integers(0, 10_000))
def test_property_gains_are_finite_and_non_negative(k, seed):
    rng = np.random.default_rng(seed)
    mu = rng.normal(0, 1, k)
    x = rng.normal(size=(k, k + 2))
    cov = x @ x.T * rng.uniform(0.001, 2)
    ci, cj = np.triu_indices(k, 1)
    info = fisher_margin(mu[ci] - mu[cj], float(rng.uniform(0, 1)), float(rng.uniform(0.5, 1)))
    for gain in (ranking_gain(mu, cov, ci, cj, info), adjacent_variance_gain(mu, cov, ci, cj, info),
                 misorder_gain(mu, cov, ci, cj, info), eig(cov[ci, ci] + cov[cj, cj] - 2 * cov[ci, cj], info)):
        assert np.all(np.isfinite(gain)) and np.all(gain >= 0)


@pytest.mark.parametrize("criterion", ["misorder", "ranking"])
def test_plan_spreads_a_batch_over_the_uncertain_pairs(criterion):
    # three close pairs: a batch of 20 goes to them only, and to more than one of them.
    # ("ranking" looks one judgment ahead, so each pick lowers the pair's next gain a lot
    # and the batch is spread; "misorder" looks a block ahead and piles more on the pair
    # whose order is least certain.)
    block = fit_systems(simulated([0.0, 0.1, 3.0, 3.1, 6.0, 6.1], 400))
    plan = plan_pairs(block, criterion, length=20)
    assert sum(plan.values()) == pytest.approx(1.0)
    close = {("s0", "s1"), ("s2", "s3"), ("s4", "s5")}
    assert set(plan) <= close and len(plan) >= 2
    if criterion == "ranking":
        assert max(plan.values()) < 0.8


def test_population_truth_is_the_latent_order_shrunk_by_noise():
    world = make_world(WorldConfig(n_systems=5, gap=0.3, n_items=40, n_annotators=6), np.random.default_rng(0))
    truth, position = population_truth(world)
    assert kendall_tau(truth, world.strengths) == 1.0
    assert np.ptp(truth) < np.ptp(world.strengths)
    assert 0 < position < world.config.position_bias


def test_pure_pool_follows_the_service_rules():
    config = WorldConfig(n_systems=3, n_items=5, n_annotators=4, redundancy=2)
    world = make_world(config, np.random.default_rng(1))
    rng = np.random.default_rng(2)
    taken = []
    pool = Pool(world, rng)
    original = pool.take

    def take(annotator, u):
        taken.append((annotator, u))
        original(annotator, u)

    pool.take = take
    for _ in range(60):
        for annotator in rng.permutation(4):
            units = pool.window(int(annotator), "random", rng)
            if len(units):
                pool.take(int(annotator), int(rng.choice(units)))
                break
    assert len(taken) == len(set(taken))  # nobody gets a unit twice
    assert np.all(pool.n_taken <= 2) and pool.n_taken.sum() == len(taken) == 15 * 2


def test_pure_pool_offers_the_strategy_s_pool_size(monkeypatch):
    """The benchmark's pool is the service's: a window of the strategy's `pool_size`."""
    from elicitation.strategies import get_strategy

    config = WorldConfig(n_systems=10, n_items=20, n_annotators=4)
    world = make_world(config, np.random.default_rng(1))
    pool = Pool(world, np.random.default_rng(2))
    assert len(pool.window(0, "random", np.random.default_rng(3), 64)) == 64
    sizes = []
    real = Pool.window
    monkeypatch.setattr(Pool, "window", lambda self, a, order, rng, size=200: sizes.append(size) or real(self, a, order, rng, size))
    run_pure("active-bt", world, np.random.default_rng(4), budget=5, checkpoint_every=5)
    run_pure("uniform", world, np.random.default_rng(4), budget=5, checkpoint_every=5)
    assert set(sizes[:5]) == {get_strategy("active-bt").pool_size} == {64}
    assert set(sizes[5:]) == {get_strategy("uniform").pool_size} == {16}


def test_ratios_to_uniform_pair_the_seeds_both_ran():
    from elicitation.simulation import METRICS, aggregate

    def row(strategy, seed, value):
        return {"strategy": strategy, "seed": seed, **{key: value for key, _ in METRICS}}

    # uniform on 4 seeds, active-bt on the first 2: its ratio uses uniform's first 2 only
    rows = [row("uniform", s, v) for s, v in enumerate([100, 100, 400, 400])] + [row("active-bt", s, 50) for s in range(2)]
    agg = aggregate(rows, budget=1000)
    assert agg["uniform"]["hold_tau90"]["mean"] == 250
    assert agg["active-bt"]["hold_tau90"]["ratio_mean"] == 0.5  # 50 / 100, not 50 / 250
    assert agg["uniform"]["hold_tau90"]["ratio_mean"] == 1.0


def test_run_pure_logs_propensities_and_stops_when_units_run_out():
    config = WorldConfig(n_systems=3, n_items=4, n_annotators=3, redundancy=1)
    world = make_world(config, np.random.default_rng(3))
    run = run_pure("active-bt", world, np.random.default_rng(4), budget=100, refit_every=3, checkpoint_every=4)
    assert run.judgments == 12  # 4 items x 3 pairs, once each
    assert all(0 < p <= 1 for p in run.propensities)


def test_system_fit_gives_cluster_robust_intervals_when_asked():
    judgments = simulated([0.0, 0.4, 0.8, 1.2], 600, seed=11, position=0.2)
    plain = fit_systems(judgments)
    block = fit_systems(judgments, robust=True)
    assert "cov_robust" not in plain
    np.testing.assert_allclose(block["scores"], plain["scores"])
    cov = block["cov_robust"]
    assert cov.shape == (4, 4) and np.linalg.eigvalsh(cov).min() > -1e-12
    np.testing.assert_allclose(cov.sum(axis=0), 0.0, atol=1e-10)
    # correct model, independent judgments: the same order as the model-based variance
    # (noisier: the annotator way has only 10 clusters)
    assert np.all(np.diag(cov) > 0.5 * np.diag(plain["cov"])) and np.all(np.diag(cov) < 4 * np.diag(plain["cov"]))
    # two-way clustering by item (600 here) and annotator (10): t with 9 degrees of freedom
    assert block["crit"] == pytest.approx(2.2621571627982)


def test_weights_move_the_fit_and_report_fit_weights_only_active_strategies():
    judgments = simulated([0.0, 0.5, 1.0], 300, seed=12)
    rng = np.random.default_rng(13)
    props = rng.uniform(0.01, 0.5, len(judgments))
    weighted = fit_systems(judgments, weights=1 / props, robust=True)
    assert not np.allclose(weighted["scores"], fit_systems(judgments)["scores"])
    from elicitation.simulation import report_fit

    np.testing.assert_allclose(report_fit("active-bt", judgments, props)["scores"], weighted["scores"])
    np.testing.assert_allclose(report_fit("active-bt", judgments, props)["cov_robust"], weighted["cov_robust"])
    np.testing.assert_allclose(report_fit("uniform", judgments, props)["scores"], fit_systems(judgments)["scores"])
    # scaling every weight changes nothing (weights are normalised)
    np.testing.assert_allclose(fit_systems(judgments, weights=7 / props, robust=True)["cov_robust"], weighted["cov_robust"])


@pytest.mark.parametrize("gain", [ranking_gain, misorder_gain])
def test_gains_in_blocks_are_the_same_as_at_once(monkeypatch, gain):
    import elicitation.acquisition as acq

    whole = gain(*twelve_players())
    monkeypatch.setattr(acq, "CHUNK_CELLS", 7)  # a few candidates per block
    np.testing.assert_allclose(gain(*twelve_players()), whole, rtol=1e-12)


@pytest.mark.parametrize("criterion", ["misorder", "ranking"])
def test_system_tables_are_matrices_that_score_like_a_fresh_computation(criterion):
    from elicitation.strategies import UnitView
    from elicitation.strategies.active_bt import bt_unit_scores, score_pairs, with_tables

    players = 12
    judgments = simulated(list(np.linspace(0, 2, players)), 800, seed=15)
    state = with_tables({"system": fit_systems(judgments)}, "system", criterion, {"*": 1.0})
    table = state["tables"]["*"][""]
    assert table["matrix"].shape == (players, players) and np.allclose(table["matrix"], table["matrix"].T)
    rng = np.random.default_rng(16)
    pool = []
    for u in range(40):
        a, b = sorted(rng.choice(players, 2, replace=False))
        pool.append(UnitView(id=u, item_id=u, candidate_ids=(2 * u, 2 * u + 1), systems=(f"s{b}", f"s{a}"), lengths=(1, 1),
                             n_taken=0, judges=({}, {})))
    got = bt_unit_scores(state, pool, "system", criterion)
    pairs = [tuple(sorted(v.systems)) for v in pool]
    fresh = score_pairs(state["system"], pairs, 100.0, criterion, 1.0)
    np.testing.assert_allclose(got, fresh, rtol=1e-9)
    # an unseen system: the table does not cover it, scores are computed on the spot
    pool.append(UnitView(id=99, item_id=99, candidate_ids=(1000, 1001), systems=("s0", "new"), lengths=(1, 1), n_taken=0,
                         judges=({}, {})))
    assert np.isfinite(bt_unit_scores(state, pool, "system", criterion)).all()


@pytest.mark.parametrize("criterion", ["misorder", "ranking"])
def test_plan_of_many_systems_picks_among_the_best_pairs_and_is_quick(criterion):
    import time

    from elicitation.strategies.active_bt import PLAN_CANDIDATES, score_pairs, with_tables

    players = 40  # 780 pairs > PLAN_CANDIDATES
    block = fit_systems(simulated(list(np.linspace(0, 4, players)), 3000, seed=17))
    t0 = time.perf_counter()
    plan = plan_pairs(block, criterion)
    assert time.perf_counter() - t0 < 5
    pairs = list(itertools.combinations(sorted(block["players"]), 2))
    gain = score_pairs(block, pairs, 1.0, criterion, 1.0)
    best = {pairs[c] for c in np.argsort(-gain)[:PLAN_CANDIDATES]}
    assert set(plan) <= best and pairs[int(np.argmax(gain))] in plan
    assert sum(plan.values()) == pytest.approx(1.0)
    # the refit plans from the pair table's scores instead of computing them again: the same plan
    assert with_tables({"system": block}, "system", criterion, {"*": 1.0})["plans"]["*"] == plan


def test_robust_fit_of_a_single_judgment_has_no_finite_interval():
    block = fit_systems(simulated([0.0, 1.0], 1), robust=True)
    assert np.isinf(block["cov_robust"]).all() and math.isinf(block["crit"])


def test_held_counts_up_to_the_run_or_up_to_an_earlier_stop():
    from elicitation.simulation import Checkpoint, Run

    taus = [0.5, 0.95, 0.95, 0.8, 0.95, 0.95]  # dips at 200, holds from 250
    run = Run("x", checkpoints=[Checkpoint(50 * (k + 1), t, False, 1.0, 1.0, 0.0) for k, t in enumerate(taus)])
    assert run.held(lambda c: c.tau >= 0.9) == 250
    assert run.held(lambda c: c.tau >= 0.9, until=150) == 100  # stopped before the dip: held from 100
    assert run.held(lambda c: c.tau >= 0.9, until=200) is None  # stopped in the dip


def test_run_pure_measures_intervals_every_report_every_and_at_the_end():
    config = WorldConfig(n_systems=4, n_items=30, n_annotators=5)
    world = make_world(config, np.random.default_rng(5))
    run = run_pure("uniform", world, np.random.default_rng(6), budget=260, checkpoint_every=50, report_every=100)
    reported = [c.n for c in run.checkpoints if not np.isnan(c.position)]
    assert [c.n for c in run.checkpoints] == [50, 100, 150, 200, 250]
    assert reported == [100, 200, 250]  # 250: the last checkpoint
    assert all(not np.isnan(c.tau) for c in run.checkpoints)
    from elicitation.simulation import summarize

    row = summarize(run, coverage_from=0)
    assert row["coverage"] == pytest.approx(np.mean([c.covered for c in run.checkpoints if c.n in reported]))
    assert row["position_estimate"] == run.checkpoints[-1].position


def test_bench_budget_sensitivity_stops_the_paired_runs_at_each_quarter():
    from bench.bench_elicitation import budget_sensitivity

    def row(strategy, seed, until):
        return {"strategy": strategy, "seed": seed, "hold_tau90_until": until}

    # uniform holds from 300 up to 2000 judgments in seed 0 but dips again after, never in seed 1
    rows = [row("uniform", 0, {"1000": 300, "2000": 300, "3000": 2500, "4000": 2500}),
            row("uniform", 1, {"1000": None, "2000": None, "3000": None, "4000": None}),
            row("active-bt", 0, {"1000": 200, "2000": 200, "3000": 200, "4000": 200}),
            row("active-bt", 1, {"1000": 900, "2000": 900, "3000": 900, "4000": 900}),
            row("active-bt", 2, {"1000": 50, "2000": 50, "3000": 50, "4000": 50})]  # no uniform run: left out
    out = budget_sensitivity(rows, "active-bt", 4000)
    assert [c["until"] for c in out] == [1000, 2000, 3000, 4000]
    assert [c["uniform_censored"] for c in out] == [1, 1, 1, 1] and all(c["runs"] == 2 for c in out)
    assert out[0]["ratio"] == pytest.approx((200 + 900) / (300 + 1000))
    assert out[3]["ratio"] == pytest.approx((200 + 900) / (2500 + 4000))
