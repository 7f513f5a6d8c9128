"""likert: config parsing, response validation (one bad-input test per error), records."""

import pytest

from annotation.task_types import CandidateView, ConfigError, ResponseError, Score, UnitContent, get_task_type



# These tests are pure (no Django). tests/conftest.py has autouse fixtures that need Django
# and Celery settings, which fail under `-p no:django`; these no-op overrides (same names)
# replace them for this module only.
@pytest.fixture(autouse=True)
def _export_root():
    yield


@pytest.fixture(autouse=True)
def _celery_in_process():
    yield


LIKERT = get_task_type("likert")
CONFIG = LIKERT.parse_config(
    {
        "aspects": [
            {"name": "helpfulness", "scale": [1, 5], "labels": {"1": "useless", 5: "very helpful"}},
            {"name": "verbosity", "scale": [0, 4]},
            {"name": "slider", "scale": [0, 100]},
        ],
        "side_by_side": True,
    }
)
UNIT = UnitContent(item_id=7, candidates=(CandidateView(123, "sys-a", "A"), CandidateView(45, "sys-b", "B")))
GOOD = {
    "ratings": {
        "123": {"helpfulness": 4, "verbosity": 0, "slider": 100},
        "45": {"helpfulness": 1, "verbosity": 4, "slider": 0},
    }
}


def errors_of(response, config=CONFIG, unit=UNIT):
    with pytest.raises(ResponseError) as exc:
        LIKERT.validate_response(config, unit, response)
    return exc.value.errors


def with_rating(cid, aspect, value):
    ratings = {k: dict(v) for k, v in GOOD["ratings"].items()}
    ratings[cid][aspect] = value
    return {"ratings": ratings}


def test_defaults_one_overall_aspect_one_candidate_per_unit():
    cfg = LIKERT.parse_config({})
    assert cfg["aspects"] == [{"name": "overall", "scale": [1, 5], "labels": {}}]
    assert cfg["side_by_side"] is False and cfg["randomize_order"] is True
    assert LIKERT.unit_candidates(cfg, [3, 1, 2]) == [(3,), (1,), (2,)]
    assert LIKERT.unit_candidates(CONFIG, [3, 1, 2]) == [(3, 1, 2)]


def test_parse_config_is_idempotent_and_normalizes_labels():
    assert LIKERT.parse_config(CONFIG) == CONFIG
    assert CONFIG["aspects"][0]["labels"] == {"1": "useless", "5": "very helpful"}


def test_valid_response_is_normalized_and_idempotent():
    clean = LIKERT.validate_response(CONFIG, UNIT, {"ratings": {123: GOOD["ratings"]["123"], "45": GOOD["ratings"]["45"]}})
    assert clean == GOOD
    assert LIKERT.validate_response(CONFIG, UNIT, clean) == clean


def test_records_one_score_per_candidate_and_aspect():
    records = LIKERT.records(CONFIG, [123, 45], GOOD)
    assert records.pairs == ()
    assert set(records.scores) == {
        Score(123, "helpfulness", 4.0), Score(123, "verbosity", 0.0), Score(123, "slider", 100.0),
        Score(45, "helpfulness", 1.0), Score(45, "verbosity", 4.0), Score(45, "slider", 0.0),
    }


def test_single_candidate_unit():
    cfg = LIKERT.parse_config({})
    unit = UnitContent(item_id=1, candidates=(CandidateView(9, "s", "t"),))
    assert LIKERT.validate_response(cfg, unit, {"ratings": {"9": {"overall": 5}}}) == {"ratings": {"9": {"overall": 5}}}
    assert LIKERT.records(cfg, [9], {"ratings": {"9": {"overall": 5}}}).scores == (Score(9, "overall", 5.0),)


# --- one test per validation error -------------------------------------------------------


def test_refuses_a_response_that_is_not_an_object():
    assert errors_of([1, 2]) == {"response": "must be an object"}


def test_refuses_unknown_top_level_field():
    assert errors_of({**GOOD, "comment": "hi"}) == {"comment": "unknown field"}


def test_refuses_missing_ratings():
    assert errors_of({}) == {"ratings": "this field is required"}


def test_refuses_ratings_that_are_not_an_object():
    assert "ratings" in errors_of({"ratings": [4, 1]})


def test_refuses_a_candidate_not_shown():
    errors = errors_of({"ratings": {**GOOD["ratings"], "999": {"helpfulness": 3}}})
    assert list(errors) == ["ratings.999"]
    assert "not a candidate of this unit" in errors["ratings.999"]


def test_refuses_a_shown_candidate_without_ratings():
    assert errors_of({"ratings": {"123": GOOD["ratings"]["123"]}}) == {"ratings.45": "every candidate shown needs ratings"}


def test_refuses_candidate_ratings_that_are_not_an_object():
    assert list(errors_of({"ratings": {**GOOD["ratings"], "45": 3}})) == ["ratings.45"]


def test_refuses_an_unknown_aspect():
    errors = errors_of(with_rating("123", "correctness", 3))
    assert list(errors) == ["ratings.123.correctness"]
    assert "not an aspect of this study" in errors["ratings.123.correctness"]


def test_refuses_a_missing_aspect():
    ratings = {k: dict(v) for k, v in GOOD["ratings"].items()}
    del ratings["45"]["verbosity"]
    assert errors_of({"ratings": ratings}) == {"ratings.45.verbosity": "this aspect needs a rating"}


@pytest.mark.parametrize(
    "aspect,value",
    [("helpfulness", 0), ("helpfulness", 6), ("verbosity", -1), ("slider", 101), ("helpfulness", 3.5),
     ("helpfulness", True), ("helpfulness", "3"), ("helpfulness", None)],
)
def test_refuses_a_value_off_the_scale(aspect, value):
    errors = errors_of(with_rating("123", aspect, value))
    assert list(errors) == [f"ratings.123.{aspect}"]
    assert "off the scale" in errors[f"ratings.123.{aspect}"]


def test_reports_every_bad_field_at_once():
    errors = errors_of({"ratings": {"123": {"helpfulness": 9}}, "x": 1})
    assert set(errors) == {"x", "ratings.123.helpfulness", "ratings.123.verbosity", "ratings.123.slider", "ratings.45"}


# --- config errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw,field",
    [
        ([], "task_config"),
        ({"scale": [1, 5]}, "task_config.scale"),
        ({"side_by_side": "yes"}, "task_config.side_by_side"),
        ({"randomize_order": 1}, "task_config.randomize_order"),
        ({"aspects": []}, "task_config.aspects"),
        ({"aspects": "overall"}, "task_config.aspects"),
        ({"aspects": ["overall"]}, "task_config.aspects[0]"),
        ({"aspects": [{"name": "a", "colour": "red"}]}, "task_config.aspects[0].colour"),
        ({"aspects": [{"name": ""}]}, "task_config.aspects[0].name"),
        ({"aspects": [{"name": "a.b"}]}, "task_config.aspects[0].name"),
        ({"aspects": [{"name": "a", "scale": [5, 1]}]}, "task_config.aspects[0].scale"),
        ({"aspects": [{"name": "a", "scale": [1, 1]}]}, "task_config.aspects[0].scale"),
        ({"aspects": [{"name": "a", "scale": [1.0, 5]}]}, "task_config.aspects[0].scale"),
        ({"aspects": [{"name": "a", "scale": [0, 5000]}]}, "task_config.aspects[0].scale"),
        ({"aspects": [{"name": "a", "labels": ["bad"]}]}, "task_config.aspects[0].labels"),
        ({"aspects": [{"name": "a", "labels": {"9": "too high"}}]}, "task_config.aspects[0].labels.9"),
        ({"aspects": [{"name": "a", "labels": {"x": "not a point"}}]}, "task_config.aspects[0].labels.x"),
        ({"aspects": [{"name": "a", "labels": {"2": ""}}]}, "task_config.aspects[0].labels.2"),
        ({"aspects": [{"name": "a"}, {"name": "a"}]}, "task_config.aspects[1].name"),
    ],
)
def test_refuses_bad_config(raw, field):
    with pytest.raises(ConfigError) as exc:
        LIKERT.parse_config(raw)
    assert exc.value.field == field
