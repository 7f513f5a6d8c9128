"""Gold answers and attention checks of every task type: an attentive answer passes, a
careless one fails. Pure: no database."""

import numpy as np
import pytest

from annotation.task_types import CandidateView, UnitContent, all_task_types, get_task_type

TEXT = "The quick brown fox jumps over the lazy dog near the quiet river bank today"
UNIT = UnitContent(item_id=1, candidates=(CandidateView(11, "a", TEXT), CandidateView(12, "b", TEXT + " again")), source="Der schnelle Fuchs")

CONFIGS = {
    "pairwise": {},
    "likert": {"aspects": [{"name": "overall", "scale": [1, 5]}]},
    "mqm": {},
    "rubric": {"criteria": [{"id": "c1", "text": "Fluent"}, {"id": "c2", "text": "Accurate", "weight": 2}]},
}


def attentive_and_careless(name, check):
    """(a response that an attentive annotator gives to the check, a careless one)."""
    if name == "pairwise":
        keep = check.expected["choice"]
        return {"choice": keep}, {"choice": check.replace_id}
    if name == "likert":
        cid = next(iter(check.expected["ratings"]))
        return {"ratings": {cid: {"overall": 1}}}, {"ratings": {cid: {"overall": 5}}}
    if name == "mqm":
        span = check.expected["errors"][0]
        good = {"errors": [{**span, "start": span["start"] + 1, "category": "Accuracy/Mistranslation"}], "no_error": False}
        return good, {"errors": [], "no_error": True}
    if name == "rubric":
        return (
            {"criteria": {"c1": {"value": "no", "score": 0.0, "weight": 1}, "c2": {"value": "no", "score": 0.0, "weight": 2}}},
            {"criteria": {"c1": {"value": "yes", "score": 1.0, "weight": 1}, "c2": {"value": "yes", "score": 1.0, "weight": 2}}},
        )
    raise AssertionError(f"add {name} to this test")


@pytest.mark.parametrize("name", sorted(all_task_types()))
def test_attention_checks_tell_attentive_from_careless(name):
    task_type = get_task_type(name)
    config = task_type.parse_config(CONFIGS[name])
    unit = UNIT if name == "pairwise" else UnitContent(1, UNIT.candidates[:1], UNIT.source)
    check = task_type.attention_check(config, unit, np.random.default_rng(1))
    assert check is not None, f"{name} builds no attention check"
    original = next(c.text for c in unit.candidates if c.id == check.replace_id)
    assert check.degraded_text != original
    good, bad = attentive_and_careless(name, check)
    assert task_type.gold_passes(config, check.expected, good)
    assert not task_type.gold_passes(config, check.expected, bad)


def test_pairwise_gold_by_system_name():
    task_type = get_task_type("pairwise")
    config = task_type.parse_config({})
    assert task_type.parse_gold(config, {"choice": "b"}, {"a": 11, "b": 12}) == {"choice": 12}


def test_likert_gold_tolerates_one_point_on_five():
    task_type = get_task_type("likert")
    config = task_type.parse_config({})
    expected = task_type.parse_gold(config, {"ratings": {"a": {"overall": 4}}}, {"a": 11})
    assert task_type.gold_passes(config, expected, {"ratings": {"11": {"overall": 5}}})
    assert not task_type.gold_passes(config, expected, {"ratings": {"11": {"overall": 2}}})
