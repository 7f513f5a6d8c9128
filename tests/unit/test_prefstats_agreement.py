"""Agreement coefficients against published values, brute-force definitions and the
PandaLM human test set."""

import json
from pathlib import Path

SHARED = Path(__file__).resolve().parents[3] / "shared"

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefstats.agreement import (
    cohen_kappa,
    coincidence_matrix,
    fleiss_kappa,
    fleiss_kappa_from_labels,
    krippendorff_alpha,
    label_counts,
    pairwise_agreement,
)

N = np.nan
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C:
# 4 observers x 12 units, values 1-5, missing data.
KRIPP = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
])

# Wikipedia "Fleiss' kappa" worked example: 10 subjects, 14 raters, 5 categories.
FLEISS_WIKI = np.array([
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
])


@pytest.mark.parametrize(
    "level, published",
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_krippendorff_published_example(level, published):
    assert round(krippendorff_alpha(KRIPP, level), 3) == published


def test_krippendorff_published_coincidence_matrix():
    co = coincidence_matrix(KRIPP)
    np.testing.assert_array_equal(co.values, [1, 2, 3, 4, 5])
    # the paper's marginals n_c = 9, 13, 10, 5, 3 (n = 40 pairable values; unit 12 drops)
    np.testing.assert_allclose(co.o.sum(axis=1), [9, 13, 10, 5, 3])
    np.testing.assert_allclose(co.o[0], [7, 4 / 3, 1 / 3, 1 / 3, 0])
    np.testing.assert_allclose(co.o, co.o.T)


def brute_alpha(data, delta2):
    """Textbook definition: D_o over within-unit ordered pairs weighted 1/(m_u - 1),
    D_e over all ordered pairs of pairable values, alpha = 1 - D_o / D_e."""
    values, do_num, n = [], 0.0, 0
    for u in range(data.shape[1]):
        col = [v for v in data[:, u] if not np.isnan(v)]
        m = len(col)
        if m < 2:
            continue
        values += col
        n += m
        for a in range(m):
            for b in range(m):
                if a != b:
                    do_num += delta2(col[a], col[b], values) / (m - 1)
    de_num = sum(delta2(a, b, values) for ai, a in enumerate(values)
                 for bi, b in enumerate(values) if ai != bi)
    if n < 2 or de_num == 0:
        return float("nan")  # nothing to disagree about: alpha undefined
    return 1 - (do_num / n) / (de_num / (n * (n - 1)))


reliability = st.integers(2, 4).flatmap(
    lambda r: st.integers(2, 7).flatmap(
        lambda u: st.lists(
            st.lists(st.one_of(st.none(), st.integers(1, 4)), min_size=u, max_size=u),
            min_size=r, max_size=r,
        )
    )
)


@settings(max_examples=60, deadline=None)
@given(reliability)
def test_krippendorff_matches_brute_force_definition(rows):
    data = np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=float)
    metrics = {
        "nominal": lambda a, b, vals: float(a != b),
        "interval": lambda a, b, vals: (a - b) ** 2,
    }
    for level, d2 in metrics.items():
        ours = krippendorff_alpha(data, level)
        ref = brute_alpha(data, d2)
        if np.isnan(ref):
            assert np.isnan(ours)
        else:
            assert ours == pytest.approx(ref, abs=1e-9)


def test_krippendorff_perfect_and_opposite():
    assert krippendorff_alpha(np.array([[1, 2, 3, 1], [1, 2, 3, 1]])) == 1.0
    # systematic disagreement on two values: worse than chance
    assert krippendorff_alpha(np.array([[1, 2, 1, 2], [2, 1, 2, 1]])) < 0
    assert np.isnan(krippendorff_alpha(np.array([[1, 1], [1, 1]])))


def test_fleiss_wikipedia_example():
    assert round(fleiss_kappa(FLEISS_WIKI), 3) == 0.210
    # same through raw labels (14 raters per subject)
    labels = np.array([np.repeat(np.arange(5), row) for row in FLEISS_WIKI])
    assert fleiss_kappa_from_labels(labels) == pytest.approx(fleiss_kappa(FLEISS_WIKI))


def test_fleiss_rejects_unequal_raters():
    with pytest.raises(ValueError):
        fleiss_kappa(np.array([[1, 1], [2, 1]]))


def test_cohen_wikipedia_example():
    # 50 proposals: yes/yes 20, yes/no 5, no/yes 10, no/no 15 -> po .7, pe .5, kappa .4
    a = np.array(["y"] * 25 + ["n"] * 25)
    b = np.array(["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15)
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_weighted_cohen_by_hand():
    a = np.array([0, 1, 2, 2])
    b = np.array([0, 2, 2, 0])
    # observed |i-j|: 0,1,0,2 -> mean 0.75; expected marginals a (1/4,1/4,1/2), b (1/2,0,1/2)
    pa, pb = np.array([0.25, 0.25, 0.5]), np.array([0.5, 0.0, 0.5])
    dist = np.abs(np.subtract.outer(np.arange(3), np.arange(3)))
    exp_lin = (np.outer(pa, pb) * dist).sum()
    exp_quad = (np.outer(pa, pb) * dist**2).sum()
    assert cohen_kappa(a, b, "linear") == pytest.approx(1 - 0.75 / exp_lin)
    assert cohen_kappa(a, b, "quadratic") == pytest.approx(1 - (0 + 1 + 0 + 4) / 4 / exp_quad)


def test_pairwise_agreement_by_hand_and_equals_fleiss_p_bar():
    unit = np.array([1, 1, 1, 2, 2, 3])
    label = np.array(["A", "A", "tie", "B", "B", "A"])
    # unit 1: 3 pairs, 1 agreeing; unit 2: 1 pair, agreeing; unit 3: no pair
    assert pairwise_agreement(unit, label) == pytest.approx(2 / 4)
    p_bar = (((FLEISS_WIKI**2).sum(axis=1) - 14) / (14 * 13)).mean()
    labels = np.array([np.repeat(np.arange(5), row) for row in FLEISS_WIKI])
    units = np.repeat(np.arange(10), 14)
    assert pairwise_agreement(units, labels.ravel()) == pytest.approx(p_bar)
    assert round(p_bar, 3) == 0.378  # Wikipedia's P-bar


def test_label_counts():
    cats, counts = label_counts(np.array([[0, 1, 1], [2, 2, 2]]))
    np.testing.assert_array_equal(cats, [0, 1, 2])
    np.testing.assert_array_equal(counts, [[1, 2, 0], [0, 0, 3]])


# ---------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def pandalm():
    path = SHARED / "data" / "pandalm" / "testset-v1.json"
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (fresh clone without the sibling ../shared)")
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    rows = json.loads(path.read_text(encoding="utf-8"))
    return np.array([[r["annotator1"], r["annotator2"], r["annotator3"]] for r in rows])


def kappa_from_confusion(a, b):
    """Independent Cohen's kappa: explicit 3x3 confusion matrix over {0 tie, 1, 2}."""
    conf = np.zeros((3, 3))
    for x, y in zip(a, b):
        conf[x, y] += 1
    conf /= conf.sum()
    po = np.trace(conf)
    pe = conf.sum(axis=1) @ conf.sum(axis=0)
    return (po - pe) / (1 - pe)


def test_pandalm_kappas(pandalm):
    labels = pandalm
    assert labels.shape == (999, 3) and set(np.unique(labels)) <= {0, 1, 2}
    kappas = {}
    for a, b in [(0, 1), (0, 2), (1, 2)]:
        k = cohen_kappa(labels[:, a], labels[:, b])
        assert k == pytest.approx(kappa_from_confusion(labels[:, a], labels[:, b]), abs=1e-12)
        assert 0.3 < k < 1.0  # three annotators who mostly agree
        kappas[(a, b)] = k
    fk = fleiss_kappa_from_labels(labels)
    assert 0.3 < fk < 1.0
    # Fleiss is a (Scott-type) multi-rater kappa: close to the mean pairwise Cohen
    assert fk == pytest.approx(np.mean(list(kappas.values())), abs=0.05)
    # Krippendorff's nominal alpha on complete data differs from Fleiss by O(1/(n*raters))
    alpha = krippendorff_alpha(labels.T.astype(float), "nominal")
    assert alpha == pytest.approx(fk, abs=2e-3)
    assert alpha > fk  # alpha's small-sample correction is positive here
    # pairwise agreement is Fleiss' P-bar, between chance and 1
    units = np.repeat(np.arange(labels.shape[0]), 3)
    pa = pairwise_agreement(units, labels.ravel())
    assert 0.5 < pa < 1.0
