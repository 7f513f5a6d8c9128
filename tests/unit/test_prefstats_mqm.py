"""MQM scoring and span agreement: weight rules, hand computations, brute-force span sets
and the WMT21 TED en-de expert annotations."""

import csv
from collections import defaultdict
from pathlib import Path

SHARED = Path(__file__).resolve().parents[3] / "shared"

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefstats.mqm import (
    MQMWeights,
    Spans,
    error_penalties,
    segment_scores,
    severity_weighted_f1,
    span_f1,
    system_scores,
)


def test_default_weights():
    sev = ["Major", "Minor", "No-error", "Minor", "Major", "Major", "minor", "Critical", "Neutral"]
    cat = ["Accuracy/Mistranslation", "Style/Awkward", "No-error", "Fluency/Punctuation",
           "Fluency/Punctuation", "Non-translation!", "Non-translation", "Accuracy/Omission",
           "Other"]
    np.testing.assert_allclose(error_penalties(sev, cat), [5, 1, 0, 0.1, 5, 25, 25, 10, 0])


def test_configurable_weights_and_unknown_severity():
    w = MQMWeights(major=4.0, critical=25.0, minor_punctuation=0.5)
    got = error_penalties(["Major", "Critical", "Minor"], ["Other", "Other", "Fluency/Punctuation"], w)
    np.testing.assert_allclose(got, [4, 25, 0.5])
    with pytest.raises(ValueError):
        error_penalties(["Severe"], ["Other"])


def test_segment_and_system_scores_by_hand():
    system = np.array(["s1", "s1", "s1", "s1", "s2", "s2"])
    segment = np.array([1, 1, 1, 2, 1, 2])
    rater = np.array(["A", "A", "B", "A", "A", "A"])
    pen = np.array([5.0, 1.0, 0.0, 0.1, 25.0, 0.0])
    # s1 seg1: A = 6, B = 0 -> 3; s1 seg2: 0.1; s2 seg1: 25, s2 seg2: 0
    segs, seg_score = segment_scores(
        np.char.add(system.astype(str), segment.astype(str)), rater, pen
    )
    assert dict(zip(segs, seg_score)) == pytest.approx({"s11": 3.0, "s12": 0.1, "s21": 25.0, "s22": 0.0})
    systems, sys_score = system_scores(system, segment, rater, pen)
    assert list(systems) == ["s1", "s2"]
    np.testing.assert_allclose(sys_score, [(3.0 + 0.1) / 2, 12.5])


def test_span_f1_by_hand():
    a = Spans(np.array([0]), np.array([0]), np.array([10]), np.array([5.0]))
    b = Spans(np.array([0]), np.array([5]), np.array([15]), np.array([1.0]))
    r = span_f1(a, b)
    assert (r.precision, r.recall, r.f1) == pytest.approx((0.5, 0.5, 0.5))
    assert span_f1(a, b, same_severity=True).f1 == 0.0
    w = severity_weighted_f1(a, b)
    # matched mass: 5 chars x min(5, 1); a's mass 50, b's mass 10
    assert (w.precision, w.recall, w.f1) == pytest.approx((0.1, 0.5, 10 / 60))
    other_segment = Spans(np.array([1]), np.array([5]), np.array([15]))
    assert span_f1(a, other_segment).f1 == 0.0
    # overlapping spans of one annotator count each character once
    double = Spans(np.array([0, 0]), np.array([0, 5]), np.array([10, 10]))
    r = span_f1(double, b)
    assert (r.precision, r.recall) == pytest.approx((0.5, 0.5))


span_lists = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 20), st.integers(0, 8), st.sampled_from([1.0, 5.0])),
    min_size=1, max_size=6,
)


def to_spans(rows):
    arr = np.array(rows, dtype=float)
    seg, start = arr[:, 0].astype(int), arr[:, 1].astype(int)
    return Spans(seg, start, start + arr[:, 2].astype(int), arr[:, 3])


def char_weights(rows):
    out = {}
    for seg, start, length, w in rows:
        for c in range(start, start + length):
            out[(seg, c)] = max(out.get((seg, c), 0.0), w)
    return out


@settings(max_examples=80, deadline=None)
@given(span_lists, span_lists)
def test_span_agreement_matches_character_sets(rows_a, rows_b):
    ca, cb = char_weights(rows_a), char_weights(rows_b)
    a, b = to_spans(rows_a), to_spans(rows_b)
    common = set(ca) & set(cb)
    r = span_f1(a, b)
    if ca:
        assert r.precision == pytest.approx(len(common) / len(ca))
    if ca or cb:
        assert r.f1 == pytest.approx(2 * len(common) / (len(ca) + len(cb)))
    same = sum(1 for c in common if ca[c] == cb[c])
    if ca or cb:
        assert span_f1(a, b, same_severity=True).f1 == pytest.approx(2 * same / (len(ca) + len(cb)))
    mass = sum(min(ca[c], cb[c]) for c in common)
    wa, wb = sum(ca.values()), sum(cb.values())
    if wa + wb:
        assert severity_weighted_f1(a, b).f1 == pytest.approx(2 * mass / (wa + wb))
    # symmetry: F1 is symmetric, precision and recall swap
    rev = span_f1(b, a)
    assert rev.f1 == pytest.approx(r.f1, nan_ok=True)
    assert rev.recall == pytest.approx(r.precision, nan_ok=True)


# ---------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def ted():
    path = SHARED / "data" / "wmt-mqm-human-evaluation" / "mqm_ted_ende.tsv"
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (fresh clone without the sibling ../shared)")
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    header, body = rows[0], rows[1:]
    assert header[:9] == ["system", "doc", "doc_id", "seg_id", "rater", "source", "target",
                          "category", "severity"]
    assert all(len(r) == len(header) for r in body)
    return {name: np.array([r[k] for r in body]) for k, name in enumerate(header)}


def hand_weight(severity, category):
    """The README rules, written out independently of prefstats."""
    if category.startswith("Non-translation"):
        return 25.0
    if severity == "Major":
        return 5.0
    if severity == "Minor":
        return 0.1 if category == "Fluency/Punctuation" else 1.0
    assert severity == "No-error"
    return 0.0


def test_ted_system_scores(ted):
    pen = error_penalties(ted["severity"], ted["category"])
    systems, scores = system_scores(ted["system"], ted["seg_id"], ted["rater"], pen)
    assert len(systems) == 14 and np.isfinite(scores).all() and (scores >= 0).all()
    ranking = list(systems[np.argsort(scores)])
    assert ranking.index("ref") < 3, ranking  # the human reference is among the best
    # independent computation of the full system scores with plain dicts
    per_rater = defaultdict(float)
    for s, g, r, sev, cat in zip(ted["system"], ted["seg_id"], ted["rater"], ted["severity"], ted["category"]):
        per_rater[(s, g, r)] += hand_weight(sev, cat)
    per_seg = defaultdict(list)
    for (s, g, _), v in per_rater.items():
        per_seg[(s, g)].append(v)
    per_sys = defaultdict(list)
    for (s, _), v in per_seg.items():
        per_sys[s].append(np.mean(v))
    for s, score in zip(systems, scores):
        assert score == pytest.approx(np.mean(per_sys[s]), abs=1e-12)
        assert len(per_sys[s]) == 529


def test_ted_segment_scores_for_a_few_segments(ted):
    pen = error_penalties(ted["severity"], ted["category"])
    key = np.char.add(np.char.add(ted["system"], "|"), ted["seg_id"])
    segs, seg_scores = segment_scores(key, ted["rater"], pen)
    by_key = dict(zip(segs, seg_scores))
    # pick segments with a punctuation error, a Major error and a clean one
    chosen = set()
    for want in [("Minor", "Fluency/Punctuation"), ("Major", "Accuracy/Mistranslation"), ("No-error", "No-error")]:
        hit = np.flatnonzero((ted["severity"] == want[0]) & (ted["category"] == want[1]))[0]
        chosen.add(key[hit])
    for k in chosen:
        rows = np.flatnonzero(key == k)
        total = sum(hand_weight(ted["severity"][r], ted["category"][r]) for r in rows)
        n_raters = len(set(ted["rater"][rows]))
        assert by_key[k] == pytest.approx(total / n_raters)
