"""derive_pairs: preference pairs from Likert, MQM and rubric scores of one item."""

from __future__ import annotations

import pytest

from exports.formats.derive import DerivedPair, derive_pairs, mean_scores
from tests.unit.test_formats_fixtures import (  # noqa: F401  (fixtures are used by name)
    StudyBuilder,
    _celery_in_process,
    _export_root,
    mqm_study,
)


def systems(pairs):
    return [(p.chosen.system, p.rejected.system, p.margin) for p in pairs]


def likert3() -> StudyBuilder:
    study = StudyBuilder("likert", {"side_by_side": True})
    ids = study.item("q", "prompt", {"m1": "a", "m2": "b", "m3": "c"})
    for annotator, (r1, r2, r3) in {"a1": (5, 3, 3), "a2": (4, 2, 3), "a3": (5, 4, 3)}.items():
        study.judge("q", ["m1", "m2", "m3"], annotator,
                    {"ratings": {str(ids["m1"]): {"overall": r1}, str(ids["m2"]): {"overall": r2}, str(ids["m3"]): {"overall": r3}}})
    return study


def test_likert_means_over_annotators():
    means = mean_scores(likert3().stream(), "overall")
    assert [(c.system, m, n) for c, m, n in means.values()] == [("m1", pytest.approx(14 / 3), 3), ("m2", 3.0, 3), ("m3", 3.0, 3)]


def test_likert_pairs_largest_margin_first_and_ties_left_out():
    pairs = derive_pairs(likert3().stream(), "overall", 0.5)
    assert systems(pairs) == [("m1", "m2", pytest.approx(5 / 3)), ("m1", "m3", pytest.approx(5 / 3))]  # m2 = m3: a tie, no pair
    assert isinstance(pairs[0], DerivedPair)
    chosen, rejected, margin = pairs[0]  # plain 3-tuple unpacking works
    assert chosen.text == "a" and rejected.text == "b"


def test_min_margin_filters_pairs():
    assert derive_pairs(likert3().stream(), "overall", 2) == []
    assert len(derive_pairs(likert3().stream(), "overall", 0)) == 2


def test_mqm_pairs_prefer_fewer_and_lighter_errors():
    rows = [r for r in mqm_study().stream() if r.item_id == "s1"]
    # sysA: mean(0, -0.1) = -0.05; sysB: mean(-6, -1) = -3.5
    assert systems(derive_pairs(rows, "mqm", 1)) == [("sysA", "sysB", 3.45)]
    assert derive_pairs(rows, "mqm", 5) == []
    # ESA (0-100) on the same item: sysA 92.5, sysB 47.5
    assert systems(derive_pairs(rows, "esa", 10)) == [("sysA", "sysB", 45.0)]


def test_latest_revision_counts_once():
    study = mqm_study()
    study.judge("s2", ["sysA"], "a1", {"no_error": True, "score": 99}, revision=3)
    rows = [r for r in study.stream() if r.item_id == "s2"]
    # sysA: a1's revision 3 (0) replaces revisions 1 and 2; sysB: -0.1
    assert systems(derive_pairs(rows, "mqm", 0)) == [("sysA", "sysB", 0.1)]


def test_rubric_totals():
    study = StudyBuilder("rubric", {"criteria": [{"id": "correct", "text": "Correct", "weight": 2}, {"id": "polite", "text": "Polite"}]})
    study.item("r", "Capital of France?", {"m1": "Paris.", "m2": "Lyon, sir."})
    study.judge("r", ["m1"], "a1", {"criteria": {"correct": {"value": "yes"}, "polite": {"value": "no"}}})
    study.judge("r", ["m2"], "a1", {"criteria": {"correct": {"value": "no"}, "polite": {"value": "yes"}}})
    assert systems(derive_pairs(study.stream(), "rubric", 0.25)) == [("m1", "m2", pytest.approx(1 / 3))]
    assert systems(derive_pairs(study.stream(), "polite", 0.5)) == [("m2", "m1", 1.0)]


def test_min_annotators_drops_thinly_rated_candidates():
    study = StudyBuilder("likert")
    study.item("q", "p", {"m1": "x", "m2": "y"})
    study.judge("q", ["m1"], "a1", {"ratings": {"1": {"overall": 5}}})
    study.judge("q", ["m1"], "a2", {"ratings": {"1": {"overall": 4}}})
    study.judge("q", ["m2"], "a1", {"ratings": {"2": {"overall": 1}}})
    assert systems(derive_pairs(study.stream(), "overall", 1)) == [("m1", "m2", 3.5)]
    assert derive_pairs(study.stream(), "overall", 1, min_annotators=2) == []


def test_other_aspects_and_pairwise_rows_give_nothing():
    assert derive_pairs(likert3().stream(), "helpfulness", 0) == []
    study = StudyBuilder("pairwise")
    ids = study.item("p", "x", {"m1": "a", "m2": "b"})
    study.judge("p", ["m1", "m2"], "a1", {"choice": ids["m1"]})
    assert derive_pairs(study.stream(), "overall", 0) == []


def test_negative_min_margin_is_refused():
    with pytest.raises(ValueError):
        derive_pairs([], "overall", -1)
