"""Cluster-robust (sandwich) covariance of the Bradley–Terry fit: checked against statsmodels'
cluster-robust GLM (plain BT is a logistic regression on e_i - e_j), against a direct
finite-difference computation for ties and covariates, against real leave-one-cluster-out
refits (the jackknife), and by properties and a coverage simulation."""

import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from prefstats.bt import (
    _comparison_terms,
    _hessian_rows,
    comparison_scores,
    covariance,
    fit_bt,
    jackknife_affordable,
    robust_covariance,
    robust_critical_value,
    student_t_quantile,
    usable_ways,
)


def clustered(seed: int, k: int = 5, n: int = 600, groups: int = 40, sd: float = 0.8, ties: bool = False):
    """Comparisons in clusters (items) where each player's strength has the cluster's own
    random deviation (like the quality of a system's output for one item)."""
    rng = np.random.default_rng(seed)
    s = np.linspace(-1, 1, k)
    i = rng.integers(0, k, n)
    j = (i + rng.integers(1, k, n)) % k
    g = rng.integers(0, groups, n)
    q = s[None, :] + rng.normal(0, sd, (groups, k))
    d = q[g, i] - q[g, j]
    if ties:
        h = d / 2
        z = np.exp(h) + np.exp(-h) + 0.5
        u = rng.random(n)
        y = np.where(u < np.exp(h) / z, 1, np.where(u < (np.exp(h) + np.exp(-h)) / z, 2, 0))
    else:
        y = np.where(rng.random(n) < 1 / (1 + np.exp(-d)), 1, 2)
    return i, j, y.astype(np.int8), g


def contrasts(cov: np.ndarray, k: int) -> np.ndarray:
    """Covariance of (theta_a - theta_last) for a < last: the reference parametrisation."""
    c = np.eye(k)[:-1] - np.eye(k)[-1]
    return c @ cov[:k, :k] @ c.T


@pytest.mark.parametrize("weighted", [False, True])
def test_one_way_matches_statsmodels_cluster_robust_glm(weighted):
    i, j, y, g = clustered(1)
    n, k = i.size, 5
    w = np.random.default_rng(2).uniform(0.5, 3.0, n) if weighted else None
    fit = fit_bt(i, j, y, k, weights=w, alpha=1e-9)
    x = np.zeros((n, k))
    x[np.arange(n), i] = 1.0
    x[np.arange(n), j] = -1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels warns that var_weights + cluster is "not fully supported"
        ref = sm.GLM((y == 1).astype(float), x[:, :-1], family=sm.families.Binomial(), var_weights=w).fit(
            cov_type="cluster", cov_kwds={"groups": g, "use_correction": False}, tol=1e-12
        )
    np.testing.assert_allclose(fit.scores[:-1] - fit.scores[-1], ref.params, atol=1e-6)
    groups = np.unique(g).size
    ours = contrasts(robust_covariance(fit, i, j, y, g, w), k) * (groups - 1) / groups  # ours has G/(G-1)
    np.testing.assert_allclose(ours, ref.cov_params(), rtol=1e-5, atol=1e-8)


def _loglik(phi, i, j, y, x, k, ties):
    """Davidson log-likelihood of each comparison, written out directly."""
    theta, beta = phi[:k], phi[k : k + x.shape[1]]
    nu = np.exp(phi[-1]) if ties else 0.0
    d = theta[i] - theta[j] + x @ beta
    z = np.exp(d / 2) + np.exp(-d / 2) + nu
    p = np.where(y == 1, np.exp(d / 2), np.where(y == 2, np.exp(-d / 2), nu)) / z
    return np.log(p)


def test_ties_and_covariates_match_finite_differences():
    i, j, y, g = clustered(3, ties=True)
    k, n = 5, i.size
    x = np.random.default_rng(4).choice([-1.0, 1.0], (n, 1))
    w = np.random.default_rng(5).uniform(0.5, 2.0, n)
    fit = fit_bt(i, j, y, k, weights=w, covariates=x, alpha=1e-3)
    assert fit.fits_ties
    phi = np.concatenate([fit.scores, fit.coef, [np.log(fit.nu)]])
    dim, eps = phi.size, 1e-6
    grads = np.empty((n, dim))
    for m in range(dim):
        e = np.zeros(dim)
        e[m] = eps
        grads[:, m] = w * (_loglik(phi + e, i, j, y, x, k, True) - _loglik(phi - e, i, j, y, x, k, True)) / (2 * eps)
    np.testing.assert_allclose(comparison_scores(fit, i, j, y, w, x), grads, atol=1e-6)
    sums = np.array([grads[g == c].sum(axis=0) for c in np.unique(g)])
    groups = sums.shape[0]
    inv = np.linalg.inv(fit.hessian)
    expected = groups / (groups - 1) * inv @ sums.T @ sums @ inv
    t = np.eye(dim)
    t[:k, :k] -= 1.0 / k
    np.testing.assert_allclose(robust_covariance(fit, i, j, y, g, w, x), t @ expected @ t.T, atol=1e-8)


def test_per_comparison_hessians_add_up_to_the_fit_hessian():
    i, j, y, _ = clustered(6, ties=True)
    x = np.random.default_rng(7).choice([-1.0, 1.0], (i.size, 1))
    fit = fit_bt(i, j, y, 5, covariates=x, alpha=0.01)
    _, parts = _comparison_terms(fit, i, j, y, None, x, hessians=True)
    hess = _hessian_rows(parts, np.arange(i.size))
    np.testing.assert_allclose(hess.sum(axis=0) + 0.01 * np.eye(fit.hessian.shape[0]), fit.hessian, atol=1e-8)


def test_jackknife_in_small_blocks_is_the_same(monkeypatch):
    import prefstats.bt as bt

    i, j, y, g = clustered(18, ties=True)
    x = np.random.default_rng(19).choice([-1.0, 1.0], (i.size, 1))
    fit = fit_bt(i, j, y, 5, covariates=x, alpha=0.01)
    whole = robust_covariance(fit, i, j, y, g, covariates=x, jackknife=True)
    real_solve = np.linalg.solve
    calls = []

    def counting_solve(a, b):
        calls.append(a.shape[0])
        return real_solve(a, b)

    monkeypatch.setattr(bt.np.linalg, "solve", counting_solve)
    monkeypatch.setattr(bt, "JACKKNIFE_BLOCK_CELLS", 3 * 7 * 7)  # 7 x 7 Hessians: blocks of 3 clusters, rows 3 at a time
    np.testing.assert_allclose(robust_covariance(fit, i, j, y, g, covariates=x, jackknife=True), whole, rtol=1e-10, atol=1e-14)
    assert calls and max(calls) <= 3


def test_jackknife_affordable_by_size():
    big = np.arange(10_000)
    assert jackknife_affordable([big % 200, big % 20], 5_000, 12)  # the benchmark's size
    assert not jackknife_affordable([big, big % 200], 10_000, 101)


def test_jackknife_is_close_to_real_leave_one_cluster_out_refits():
    i, j, y, g = clustered(8, n=1200, groups=30)
    k = 5
    fit = fit_bt(i, j, y, k, alpha=1e-3)
    deltas = []
    for c in np.unique(g):
        keep = g != c
        deltas.append(fit_bt(i[keep], j[keep], y[keep], k, alpha=1e-3).scores - fit.scores)
    deltas = np.array(deltas)
    groups = deltas.shape[0]
    jack = (groups - 1) / groups * deltas.T @ deltas
    cv3 = robust_covariance(fit, i, j, y, g, jackknife=True)[:k, :k]
    np.testing.assert_allclose(np.diag(cv3), np.diag(jack), rtol=0.05)


def test_two_way_is_inclusion_exclusion_of_one_way_terms():
    i, j, y, g = clustered(9)
    h = np.random.default_rng(10).integers(0, 12, i.size)
    fit = fit_bt(i, j, y, 5, alpha=1e-3)
    both = np.unique(np.stack([g, h], axis=1), axis=0, return_inverse=True)[1].ravel()
    for jackknife in (False, True):
        parts = [robust_covariance(fit, i, j, y, c, jackknife=jackknife) for c in (g, h, both)]
        expected = parts[0] + parts[1] - parts[2]
        got = robust_covariance(fit, i, j, y, (g, h), jackknife=jackknife)
        if np.linalg.eigvalsh(expected).min() > -1e-12:  # nothing to clip
            np.testing.assert_allclose(got, expected, atol=1e-10)
        assert np.linalg.eigvalsh(got).min() > -1e-10


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), jackknife=st.booleans())
def test_invariant_to_order_and_cluster_names_and_psd(seed, jackknife):
    i, j, y, g = clustered(seed, n=300, groups=25)
    fit = fit_bt(i, j, y, 5, alpha=0.01)
    cov = robust_covariance(fit, i, j, y, g, jackknife=jackknife)
    perm = np.random.default_rng(seed).permutation(i.size)
    renamed = (g * 7919 + 13)[perm]
    np.testing.assert_allclose(robust_covariance(fit, i[perm], j[perm], y[perm], renamed, jackknife=jackknife), cov, atol=1e-12)
    assert np.linalg.eigvalsh(cov).min() > -1e-12
    np.testing.assert_allclose(cov[:5, :5].sum(axis=0), 0.0, atol=1e-10)  # centred scores


def test_twice_the_clusters_halves_the_variance():
    i, j, y, g = clustered(11, groups=30)
    fit = fit_bt(i, j, y, 5, alpha=1e-9)
    cov = robust_covariance(fit, i, j, y, g)
    cat = np.concatenate
    twice = fit_bt(cat([i, i]), cat([j, j]), cat([y, y]), 5, alpha=1e-9)
    cov2 = robust_covariance(twice, cat([i, i]), cat([j, j]), cat([y, y]), cat([g, g + 1000]))
    g1 = np.unique(g).size
    np.testing.assert_allclose(cov2 * (g1 / (g1 - 1)) / (2 * g1 / (2 * g1 - 1)), cov / 2, rtol=1e-4, atol=1e-7)


def test_singleton_clusters_on_a_correct_model_agree_with_laplace():
    rng = np.random.default_rng(12)
    k, n = 6, 20_000
    s = np.linspace(-1, 1, k)
    i = rng.integers(0, k, n)
    j = (i + rng.integers(1, k, n)) % k
    y = np.where(rng.random(n) < 1 / (1 + np.exp(-(s[i] - s[j]))), 1, 2)
    fit = fit_bt(i, j, y, k)
    np.testing.assert_allclose(np.diag(robust_covariance(fit, i, j, y))[:k], np.diag(covariance(fit))[:k], rtol=0.1)


def test_clustered_intervals_cover_when_laplace_does_not():
    """Shared cluster noise: Laplace intervals are too narrow, cluster-robust ones are not."""
    k, reps = 4, 150
    truth_rng = np.random.default_rng(13)
    hits = {"laplace": [], "robust": []}
    for r in range(reps):
        i, j, y, g = clustered(1000 + r, k=k, n=400, groups=40, sd=1.5)
        fit = fit_bt(i, j, y, k, alpha=1e-6)
        # the population limit of this world: a big sample of clusters fitted once
        if r == 0:
            bi, bj, by, _ = clustered(int(truth_rng.integers(1 << 30)), k=k, n=400_000, groups=40_000, sd=1.5)
            truth = fit_bt(bi, bj, by, k, alpha=1e-6).scores
        crit = robust_critical_value(g, i.size)
        for name, cov in (("laplace", covariance(fit)), ("robust", robust_covariance(fit, i, j, y, g, jackknife=True))):
            sd = np.sqrt(np.diag(cov)[:k])
            z = 1.959963984540054 if name == "laplace" else crit
            hits[name].append(np.mean(np.abs(fit.scores - truth) <= z * sd))
    assert np.mean(hits["laplace"]) < 0.85
    assert 0.91 <= np.mean(hits["robust"]) <= 0.99


@pytest.mark.parametrize("p,df", [(0.975, 1), (0.975, 2), (0.975, 19), (0.975, 500), (0.9, 3.5), (0.025, 10), (0.5, 7)])
def test_student_t_quantile_matches_scipy(p, df):
    assert student_t_quantile(p, df) == pytest.approx(stats.t.ppf(p, df), rel=1e-9, abs=1e-9)


def test_critical_value_uses_the_smaller_number_of_clusters():
    a = np.repeat(np.arange(20), 10)
    b = np.arange(200)
    assert robust_critical_value((a, b), 200) == pytest.approx(stats.t.ppf(0.975, 19))
    assert robust_critical_value(b, 200) == pytest.approx(stats.t.ppf(0.975, 199))
    assert robust_critical_value(None, 1000) == pytest.approx(stats.t.ppf(0.975, 999))


def test_bad_input_is_refused():
    i, j, y, g = clustered(14, n=50)
    fit = fit_bt(i, j, y, 5)
    with pytest.raises(ValueError, match="one label per comparison"):
        robust_covariance(fit, i, j, y, g[:-1])
    with pytest.raises(ValueError, match="covariates"):
        robust_covariance(fit, i, j, y, g, covariates=np.ones((50, 1)))
    with pytest.raises(ValueError, match="df"):
        student_t_quantile(0.975, 0)
    with pytest.raises(ValueError, match="at least 2 clusters"):
        robust_covariance(fit, i, j, y, (g, np.zeros(50)))


def test_usable_ways_leave_out_ways_with_few_clusters():
    items, three = np.arange(60), np.arange(60) % 3
    assert [w.tolist() for w in usable_ways((items, three))] == [items.tolist()]
    assert usable_ways((three,)) == []
    assert len(usable_ways((items, np.arange(60) % 12))) == 2
