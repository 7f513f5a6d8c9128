"""Kendall tau-b with observation weights (1/propensity of actively sampled judgments): whole
weights are repeated rows, unit weights are plain tau-b, and pair_kendall takes them."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefstats.correlation import kendall_tau
from prefstats.metaeval import pair_kendall, weighted_kendall_b_few_levels

rows = st.lists(st.tuples(st.sampled_from([-1.0, 0.0, 1.0, 2.5]), st.integers(-4, 4), st.integers(1, 4)), min_size=2, max_size=50)


@settings(max_examples=150, deadline=None)
@given(rows)
def test_whole_weights_equal_repeated_rows(data):
    x = np.array([a for a, _, _ in data])
    y = np.array([b for _, b, _ in data], dtype=float) / 3.0
    w = np.array([c for _, _, c in data], dtype=float)
    got = weighted_kendall_b_few_levels(x, y, w)
    want = kendall_tau(np.repeat(x, w.astype(int)), np.repeat(y, w.astype(int)), "b")
    assert (np.isnan(got) and np.isnan(want)) or got == pytest.approx(want, abs=1e-12)
    plain = weighted_kendall_b_few_levels(x, y, np.ones_like(w))
    ref = kendall_tau(x, y, "b")
    assert (np.isnan(plain) and np.isnan(ref)) or plain == pytest.approx(ref, abs=1e-12)
    # scaling every weight changes nothing
    again = weighted_kendall_b_few_levels(x, y, 0.37 * w)
    assert (np.isnan(got) and np.isnan(again)) or again == pytest.approx(got, abs=1e-12)


def test_pair_kendall_weights_shift_towards_the_heavy_judgments():
    human = np.array([1.0, 1.0, -1.0, 1.0])
    diff = np.array([2.0, 1.0, -1.0, -3.0])  # the last judgment disagrees with the judge
    plain = pair_kendall(human, diff, "b")
    assert pair_kendall(human, diff, "b", weights=np.ones(4)) == pytest.approx(plain)
    assert pair_kendall(human, diff, "b", weights=np.array([1, 1, 1, 10.0])) < plain < pair_kendall(human, diff, "b", weights=np.array([10, 10, 10, 1.0]))
    with pytest.raises(ValueError, match="tau-b only"):
        pair_kendall(human, diff, "c", weights=np.ones(4))
