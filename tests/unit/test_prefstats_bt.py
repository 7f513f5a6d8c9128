"""Bradley–Terry(-Davidson) fit: oracle checks against choix and a direct likelihood
maximisation, Hessian vs finite differences, properties, recovery, speed."""

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefstats import bt
from prefstats.bt import (
    Outcome,
    bootstrap_bt,
    covariance,
    expected_win_rate,
    fit_bt,
    from_winner_loser,
    information_gain,
    predict_proba,
    win_rate_matrix,
)


def simulate(rng, theta, n, nu=0.0, beta=None, x=None):
    """Draw Davidson comparisons between uniformly chosen distinct players."""
    k = theta.size
    i = rng.integers(0, k, n)
    j = (i + rng.integers(1, k, n)) % k
    d = theta[i] - theta[j]
    if beta is not None:
        d = d + x @ beta
    z = np.exp(d / 2) + np.exp(-d / 2) + nu
    p_i, p_t = np.exp(d / 2) / z, nu / z
    u = rng.random(n)
    y = np.where(u < p_i, Outcome.I_WINS, np.where(u < p_i + p_t, Outcome.TIE, Outcome.J_WINS))
    return i, j, y.astype(np.int8)


# ---------------------------------------------------------------- oracles


@pytest.mark.parametrize("alpha_choix", [0.05, 0.5])
def test_matches_choix_opt_pairwise(alpha_choix):
    choix = pytest.importorskip("choix")
    rng = np.random.default_rng(1)
    theta = rng.normal(size=8)
    i, j, y = simulate(rng, theta, 400)
    data = [(a, b) if r == Outcome.I_WINS else (b, a) for a, b, r in zip(i, j, y)]
    ref = choix.opt_pairwise(8, data, alpha=alpha_choix, method="BFGS", tol=1e-11)
    # choix penalises alpha * |theta|^2, we use alpha/2 * |theta|^2
    fit = fit_bt(i, j, y, 8, alpha=2 * alpha_choix)
    assert fit.converged and fit.nu == 0.0
    np.testing.assert_allclose(fit.scores, ref - ref.mean(), atol=1e-6)


def test_matches_choix_ilsr_unregularised():
    choix = pytest.importorskip("choix")
    rng = np.random.default_rng(2)
    theta = np.linspace(-1.5, 1.5, 6)
    w, l, _ = from_winner_loser(*np.array(
        [(a, b) for a in range(6) for b in range(6) if a != b for _ in range(3)]
    ).T)
    i, j, y = simulate(rng, theta, 600)
    winners = np.concatenate([np.where(y == 1, i, j), w])
    losers = np.concatenate([np.where(y == 1, j, i), l])
    ref = choix.ilsr_pairwise(6, list(zip(winners, losers)), alpha=0.0, tol=1e-12)
    fit = fit_bt(*from_winner_loser(winners, losers), 6, alpha=1e-9)
    np.testing.assert_allclose(fit.scores, ref - ref.mean(), atol=1e-5)


def test_integer_weights_equal_repeated_comparisons_in_choix():
    choix = pytest.importorskip("choix")
    i = np.array([0, 1, 2, 0, 3, 1])
    j = np.array([1, 2, 3, 2, 0, 3])
    w = np.array([3, 1, 2, 4, 1, 2])
    data = [(a, b) for a, b, c in zip(i, j, w) for _ in range(c)]
    ref = choix.opt_pairwise(4, data, alpha=0.1, method="BFGS", tol=1e-11)
    fit = fit_bt(i, j, np.ones(6, np.int8), 4, weights=w, alpha=0.2)
    np.testing.assert_allclose(fit.scores, ref - ref.mean(), atol=1e-6)


def davidson_objective(params, i, j, y, w, k, p, alpha, x):
    """Independent Davidson (1970) likelihood in its original pi-parametrisation."""
    theta, beta, log_nu = params[:k], params[k : k + p], params[-1]
    pi = np.exp(theta)
    s = np.exp(x @ beta / 2)  # covariate multiplies i's strength by s, j's by 1/s
    a, b = pi[i] * s, pi[j] / s
    nu = np.exp(log_nu)
    denom = a + b + nu * np.sqrt(a * b)
    lik = np.where(y == 1, a, np.where(y == 2, b, nu * np.sqrt(a * b))) / denom
    return -(w * np.log(lik)).sum() + alpha / 2 * (params @ params)


def test_ties_and_covariates_match_direct_likelihood_maximisation():
    optimize = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(3)
    k, n = 5, 300
    theta = rng.normal(size=k)
    x = rng.choice([-1.0, 1.0], size=(n, 1))
    i, j, y = simulate(rng, theta, n, nu=0.8, beta=np.array([0.4]), x=x)
    w = rng.uniform(0.5, 2.0, n)
    alpha = 0.3
    fit = fit_bt(i, j, y, k, weights=w, covariates=x, alpha=alpha)
    res = optimize.minimize(
        davidson_objective, np.zeros(k + 2), args=(i, j, y, w, k, 1, alpha, x),
        method="BFGS", options={"gtol": 1e-9},
    )
    assert fit.converged and fit.fits_ties
    np.testing.assert_allclose(fit.scores, res.x[:k] - res.x[:k].mean(), atol=1e-5)
    np.testing.assert_allclose(fit.coef, res.x[k : k + 1], atol=1e-5)
    assert fit.nu == pytest.approx(np.exp(res.x[-1]), rel=1e-5)
    assert fit.neg_log_posterior == pytest.approx(res.fun, rel=1e-9)


def test_hessian_is_the_second_derivative_of_the_objective():
    rng = np.random.default_rng(4)
    k, n = 4, 200
    x = rng.normal(size=(n, 2))
    i, j, y = simulate(rng, rng.normal(size=k), n, nu=0.5, beta=np.array([0.2, -0.3]), x=x)
    w = rng.uniform(0.2, 3, n)
    fit = fit_bt(i, j, y, k, weights=w, covariates=x, alpha=0.1)
    prob = bt._Problem(i, j, y, w, x, k, 0.1, True)
    phi = np.concatenate([fit.scores, fit.coef, [np.log(fit.nu)]])
    h = 1e-4
    num = np.empty((phi.size, phi.size))
    for a in range(phi.size):
        e = np.zeros(phi.size)
        e[a] = h
        g_plus = prob.grad_hess(phi + e, prob.value(phi + e)[1])[0]
        g_minus = prob.grad_hess(phi - e, prob.value(phi - e)[1])[0]
        num[:, a] = (g_plus - g_minus) / (2 * h)
    np.testing.assert_allclose(fit.hessian, num, atol=1e-5)
    # and the gradient is the derivative of the value
    for a in range(phi.size):
        e = np.zeros(phi.size)
        e[a] = h
        fd = (prob.value(phi + e)[0] - prob.value(phi - e)[0]) / (2 * h)
        g = prob.grad_hess(phi, prob.value(phi)[1])[0]
        assert fd == pytest.approx(g[a], abs=1e-5)


# ---------------------------------------------------------------- properties

comparisons = st.integers(min_value=3, max_value=6).flatmap(
    lambda k: st.tuples(
        st.just(k),
        st.lists(
            st.tuples(
                st.integers(0, k - 1), st.integers(1, k - 1), st.sampled_from([0, 1, 2]),
                st.floats(0.1, 5.0),
            ),
            min_size=1, max_size=25,
        ),
    )
)


def unpack(k, rows):
    arr = np.array(rows, dtype=float)
    i = arr[:, 0].astype(int)
    j = (i + arr[:, 1].astype(int)) % k
    return i, j, arr[:, 2].astype(np.int8), arr[:, 3]


@settings(max_examples=60, deadline=None)
@given(comparisons)
def test_swapping_every_outcome_negates_scores(case):
    k, rows = case
    i, j, y, w = unpack(k, rows)
    flipped = np.where(y == 1, 2, np.where(y == 2, 1, 0)).astype(np.int8)
    a = fit_bt(i, j, y, k, weights=w)
    b = fit_bt(i, j, flipped, k, weights=w)
    c = fit_bt(j, i, y, k, weights=w)  # same as relabelling who is "i"
    np.testing.assert_allclose(b.scores, -a.scores, atol=1e-7)
    np.testing.assert_allclose(c.scores, -a.scores, atol=1e-7)
    assert b.nu == pytest.approx(a.nu, rel=1e-6, abs=1e-12)
    assert abs(a.scores.sum()) < 1e-9


@settings(max_examples=60, deadline=None)
@given(comparisons, st.data())
def test_an_extra_win_does_not_lower_the_winner(case, data):
    """A theorem for plain BT with a ridge: the Hessian is a graph Laplacian + alpha*I,
    an M-matrix whose inverse is non-negative and diagonally dominant, so adding weight to
    a win of i over j moves theta_i up and theta_j down all along the way. (With a fitted
    tie parameter the loser can rise slightly through nu, so decisive data only here.)"""
    k, rows = case
    i, j, y, w = unpack(k, rows)
    y = np.where(y == 0, 1, y).astype(np.int8)
    winner = data.draw(st.integers(0, k - 1))
    loser = (winner + data.draw(st.integers(1, k - 1))) % k
    before = fit_bt(i, j, y, k, weights=w)
    after = fit_bt(
        np.append(i, winner), np.append(j, loser), np.append(y, 1).astype(np.int8), k,
        weights=np.append(w, 1.0),
    )
    assert after.scores[winner] >= before.scores[winner] - 1e-9
    assert after.scores[loser] <= before.scores[loser] + 1e-9


@settings(max_examples=40, deadline=None)
@given(comparisons, st.permutations(range(6)))
def test_relabelling_players_permutes_scores(case, perm):
    k, rows = case
    perm = np.array([p for p in perm if p < k])
    i, j, y, w = unpack(k, rows)
    a = fit_bt(i, j, y, k, weights=w)
    b = fit_bt(perm[i], perm[j], y, k, weights=w)
    np.testing.assert_allclose(b.scores[perm], a.scores, atol=1e-7)


@settings(max_examples=30, deadline=None)
@given(comparisons, st.floats(0.1, 10.0))
def test_scaling_weights_and_prior_together_changes_nothing(case, c):
    k, rows = case
    i, j, y, w = unpack(k, rows)
    a = fit_bt(i, j, y, k, weights=w, alpha=0.05)
    b = fit_bt(i, j, y, k, weights=c * w, alpha=0.05 * c)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-7)


def test_perfect_record_and_disconnected_graph_still_fit():
    # player 0 beats everyone; players 3-4 never meet 0-2
    i = np.array([0, 0, 0, 1, 3, 3])
    j = np.array([1, 2, 1, 2, 4, 4])
    fit = fit_bt(i, j, np.ones(6, np.int8), 5)
    assert fit.converged and np.isfinite(fit.scores).all()
    assert np.argmax(fit.scores) == 0
    assert fit.scores[3] > fit.scores[4]
    assert np.isfinite(covariance(fit)).all()


def test_no_ties_means_plain_bt_and_tie_probability_zero():
    fit = fit_bt([0, 1], [1, 2], [1, 1], 3)
    assert fit.nu == 0.0 and not fit.fits_ties
    _, _, p_tie = predict_proba(fit, [0], [2])
    assert p_tie[0] == 0.0


def test_input_validation():
    with pytest.raises(ValueError):
        fit_bt([0], [0], [1], 2)
    with pytest.raises(ValueError):
        fit_bt([0], [2], [1], 2)
    with pytest.raises(ValueError):
        fit_bt([0], [1], [3], 2)
    with pytest.raises(ValueError):
        fit_bt([0], [1], [1], 2, alpha=0.0)


# ---------------------------------------------------------------- recovery


def test_recovers_strengths_tie_parameter_and_position_effect():
    rng = np.random.default_rng(5)
    k, n = 12, 200_000
    theta = rng.normal(scale=0.8, size=k)
    theta -= theta.mean()
    x = rng.choice([-1.0, 1.0], size=(n, 1))  # +1: i shown first
    i, j, y = simulate(rng, theta, n, nu=0.5, beta=np.array([0.3]), x=x)
    fit = fit_bt(i, j, y, k, covariates=x)
    se = np.sqrt(np.diag(covariance(fit)))
    assert np.abs(fit.scores - theta).max() < 0.05
    assert np.all(np.abs(fit.scores - theta) < 4.5 * se[:k])
    assert fit.coef[0] == pytest.approx(0.3, abs=0.02)
    assert fit.nu == pytest.approx(0.5, abs=0.02)
    # without the position covariate the strengths are still fine (x is balanced) ...
    plain = fit_bt(i, j, y, k)
    assert np.abs(plain.scores - theta).max() < 0.06
    # ... and the controlled prediction uses covariate 0
    p_i, p_j, p_t = predict_proba(fit, [0], [1])
    d = fit.scores[0] - fit.scores[1]
    z = np.exp(d / 2) + np.exp(-d / 2) + fit.nu
    assert p_i[0] == pytest.approx(np.exp(d / 2) / z)
    assert p_i[0] + p_j[0] + p_t[0] == pytest.approx(1.0)


def test_laplace_standard_errors_agree_with_bootstrap():
    rng = np.random.default_rng(6)
    theta = np.linspace(-1.2, 1.2, 8)
    i, j, y = simulate(rng, theta, 4000, nu=0.4)
    boot = bootstrap_bt(i, j, y, 8, rng=np.random.default_rng(7), n_boot=150)
    fit = fit_bt(i, j, y, 8)
    laplace = np.sqrt(np.diag(covariance(fit))[:8])
    np.testing.assert_allclose(boot.samples.std(axis=0), laplace, rtol=0.3)
    assert np.all(boot.low <= boot.estimate) and np.all(boot.estimate <= boot.high)
    covered = (boot.low < theta) & (theta < boot.high)
    assert covered.sum() >= 6  # 95% intervals: missing 3 of 8 has probability < 0.01
    again = bootstrap_bt(i, j, y, 8, rng=np.random.default_rng(7), n_boot=150)
    np.testing.assert_array_equal(again.samples, boot.samples)


def test_information_gain_prefers_uncertain_pairs():
    # 0-1 compared a lot, 2-3 only once: a new 2-3 comparison teaches more
    i = np.array([0] * 50 + [1] * 50 + [2, 0, 1])
    j = np.array([1] * 50 + [0] * 50 + [3, 2, 3])
    y = np.ones(i.size, np.int8)
    fit = fit_bt(i, j, y, 4, alpha=0.1)
    gain = information_gain(fit, np.array([0, 2]), np.array([1, 3]))
    assert np.all(gain > 0) and gain[1] > 5 * gain[0]


def test_expected_win_rate_orders_like_scores_and_averages_half():
    rng = np.random.default_rng(8)
    i, j, y = simulate(rng, np.array([0.0, 1.0, -1.0, 0.5]), 2000, nu=0.3)
    fit = fit_bt(i, j, y, 4)
    ew = expected_win_rate(fit)
    assert list(np.argsort(ew)) == list(np.argsort(fit.scores))
    assert ew.mean() == pytest.approx(0.5)


def test_win_rate_matrix_against_loop():
    rng = np.random.default_rng(9)
    i, j, y = simulate(rng, np.zeros(4), 300, nu=0.5)
    w = rng.uniform(0.5, 2, 300)
    wr = win_rate_matrix(i, j, y, 4, weights=w)
    for a in range(4):
        for b in range(4):
            won = tot = 0.0
            for ii, jj, yy, ww in zip(i, j, y, w):
                if (ii, jj) == (a, b):
                    won += ww * {1: 1.0, 0: 0.5, 2: 0.0}[int(yy)]
                    tot += ww
                elif (ii, jj) == (b, a):
                    won += ww * {2: 1.0, 0: 0.5, 1: 0.0}[int(yy)]
                    tot += ww
            assert wr.count[a, b] == pytest.approx(tot)
            if tot:
                assert wr.rate[a, b] == pytest.approx(won / tot)
                assert wr.rate[a, b] + wr.rate[b, a] == pytest.approx(1.0)
            else:
                assert np.isnan(wr.rate[a, b])


def test_fit_is_fast_on_a_million_comparisons():
    rng = np.random.default_rng(10)
    theta = rng.normal(size=100)
    i, j, y = simulate(rng, theta, 1_000_000, nu=0.5)
    start = time.perf_counter()
    fit = fit_bt(i, j, y, 100)
    elapsed = time.perf_counter() - start
    assert fit.converged
    assert elapsed < 10.0, f"BT fit took {elapsed:.1f}s"  # ~1 s on an idle 2-core box
    assert np.abs(fit.scores - (theta - theta.mean())).max() < 0.1
