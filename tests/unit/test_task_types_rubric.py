"""rubric: study and per-item criteria, response validation (one bad-input test per error),
weighted total."""

import pytest

from annotation.task_types import CandidateView, ConfigError, ResponseError, Score, UnitContent, get_task_type


@pytest.fixture(autouse=True)
def _export_root():  # pure tests: override tests/conftest.py's Django/Celery autouse fixtures
    yield


@pytest.fixture(autouse=True)
def _celery_in_process():
    yield


RUBRIC = get_task_type("rubric")
CRITERIA = [
    {"id": "answers", "text": "Answers the question", "weight": 3},
    {"id": "cites", "text": "Cites a source", "scale": "ynp", "evidence": "required"},
    {"id": "clarity", "text": "Clarity, 0-4", "scale": [0, 4], "weight": 0.5, "evidence": "optional"},
]
CONFIG = RUBRIC.parse_config({"criteria": CRITERIA})
TEXT = "Paris is the capital of France [1]."
UNIT = UnitContent(item_id=3, candidates=(CandidateView(21, "sys-a", TEXT),))
GOOD = {
    "criteria": {
        "answers": {"value": "yes"},
        "cites": {"value": "partial", "evidence": {"start": 31, "end": 34}},
        "clarity": {"value": 3},
    }
}


def errors_of(response, config=CONFIG, unit=UNIT):
    with pytest.raises(ResponseError) as exc:
        RUBRIC.validate_response(config, unit, response)
    return exc.value.errors


def answer(cid, **changes):
    criteria = {k: dict(v) for k, v in GOOD["criteria"].items()}
    criteria[cid].update(changes)
    return {"criteria": criteria}


# --- config --------------------------------------------------------------------------------


def test_study_criteria_get_defaults():
    assert CONFIG["criteria_source"] == "study"
    assert CONFIG["criteria"][1] == {"id": "cites", "text": "Cites a source", "weight": 1, "scale": "ynp", "evidence": "required"}
    assert CONFIG["criteria"][0]["scale"] == "ynp" and CONFIG["criteria"][0]["evidence"] == "none"
    assert RUBRIC.parse_config(CONFIG) == CONFIG
    assert RUBRIC.unit_candidates(CONFIG, [1, 2]) == [(1,), (2,)]


def test_without_criteria_the_items_bring_them():
    assert RUBRIC.parse_config({}) == {"criteria": [], "criteria_source": "item"}


@pytest.mark.parametrize(
    "raw,field",
    [
        ([], "task_config"),
        ({"items": []}, "task_config.items"),
        ({"criteria_source": "both"}, "task_config.criteria_source"),
        ({"criteria_source": "study"}, "task_config.criteria"),
        ({"criteria_source": "item", "criteria": CRITERIA}, "task_config.criteria"),
        ({"criteria": "be good"}, "task_config.criteria"),
        ({"criteria": ["be good"]}, "task_config.criteria[0]"),
        ({"criteria": [{"id": "a", "text": "t", "points": 2}]}, "task_config.criteria[0].points"),
        ({"criteria": [{"id": "a b", "text": "t"}]}, "task_config.criteria[0].id"),
        ({"criteria": [{"id": "a.b", "text": "t"}]}, "task_config.criteria[0].id"),
        ({"criteria": [{"id": "rubric", "text": "t"}]}, "task_config.criteria[0].id"),
        ({"criteria": [{"id": "a", "text": "t"}, {"id": "a", "text": "u"}]}, "task_config.criteria[1].id"),
        ({"criteria": [{"id": "a", "text": " "}]}, "task_config.criteria[0].text"),
        ({"criteria": [{"id": "a", "text": "t", "weight": 0}]}, "task_config.criteria[0].weight"),
        ({"criteria": [{"id": "a", "text": "t", "weight": -1}]}, "task_config.criteria[0].weight"),
        ({"criteria": [{"id": "a", "text": "t", "weight": True}]}, "task_config.criteria[0].weight"),
        ({"criteria": [{"id": "a", "text": "t", "scale": "yn"}]}, "task_config.criteria[0].scale"),
        ({"criteria": [{"id": "a", "text": "t", "scale": [1, 5]}]}, "task_config.criteria[0].scale"),
        ({"criteria": [{"id": "a", "text": "t", "scale": [0, 0]}]}, "task_config.criteria[0].scale"),
        ({"criteria": [{"id": "a", "text": "t", "evidence": "always"}]}, "task_config.criteria[0].evidence"),
    ],
)
def test_refuses_bad_config(raw, field):
    with pytest.raises(ConfigError) as exc:
        RUBRIC.parse_config(raw)
    assert exc.value.field == field


# --- valid responses and records -------------------------------------------------------------


def test_valid_response_stores_score_and_weight_and_is_idempotent():
    clean = RUBRIC.validate_response(CONFIG, UNIT, GOOD)
    assert clean == {
        "criteria": {
            "answers": {"value": "yes", "score": 1.0, "weight": 3},
            "cites": {"value": "partial", "score": 0.5, "weight": 1, "evidence": {"start": 31, "end": 34}},
            "clarity": {"value": 3, "score": 0.75, "weight": 0.5},
        }
    }
    assert RUBRIC.validate_response(CONFIG, UNIT, clean) == clean


def test_records_per_criterion_and_weighted_total():
    clean = RUBRIC.validate_response(CONFIG, UNIT, GOOD)
    scores = RUBRIC.records(CONFIG, [21], clean).scores
    total = (3 * 1.0 + 1 * 0.5 + 0.5 * 0.75) / 4.5
    assert scores == (
        Score(21, "answers", 1.0), Score(21, "cites", 0.5), Score(21, "clarity", 0.75), Score(21, "rubric", round(total, 10))
    )


def test_item_criteria_come_from_unit_meta():
    cfg = RUBRIC.parse_config({"criteria_source": "item"})
    unit = UnitContent(item_id=3, candidates=(CandidateView(21, "sys-a", TEXT),), meta={"rubric": [{"id": "short", "text": "Under 50 characters", "weight": 2}]})
    clean = RUBRIC.validate_response(cfg, unit, {"criteria": {"short": {"value": "no"}}})
    assert clean == {"criteria": {"short": {"value": "no", "score": 0.0, "weight": 2}}}
    # records need no item meta: the stored response carries score and weight
    assert RUBRIC.records(cfg, [21], clean).scores == (Score(21, "short", 0.0), Score(21, "rubric", 0.0))


def test_criteria_for_reports_bad_item_criteria_for_the_import():
    cfg = RUBRIC.parse_config({})
    with pytest.raises(ConfigError) as exc:
        RUBRIC.criteria_for(cfg, {"rubric": [{"id": "a", "text": "t", "weight": 0}]})
    assert exc.value.field == "meta.rubric[0].weight"
    assert RUBRIC.criteria_for(CONFIG, {}) == CONFIG["criteria"]


# --- one test per validation error -------------------------------------------------------


def test_refuses_a_response_that_is_not_an_object():
    assert errors_of(None) == {"response": "must be an object"}


def test_refuses_a_unit_with_several_candidates():
    unit = UnitContent(item_id=1, candidates=(CandidateView(1, "a", "x"), CandidateView(2, "b", "y")))
    assert errors_of(GOOD, unit=unit) == {"unit": "a rubric unit shows exactly one candidate"}


def test_refuses_when_the_item_has_no_criteria():
    cfg = RUBRIC.parse_config({})
    errors = errors_of(GOOD, config=cfg)
    assert list(errors) == ["meta.rubric"] and "not the answer" in errors["meta.rubric"]


def test_refuses_when_the_item_criteria_are_malformed():
    cfg = RUBRIC.parse_config({})
    unit = UnitContent(item_id=3, candidates=UNIT.candidates, meta={"rubric": [{"id": "x"}]})
    assert list(errors_of(GOOD, config=cfg, unit=unit)) == ["meta.rubric[0].text"]


def test_refuses_unknown_field():
    assert errors_of({**GOOD, "total": 1}) == {"total": "unknown field"}


def test_refuses_missing_criteria():
    assert errors_of({}) == {"criteria": "this field is required"}


def test_refuses_criteria_that_are_not_an_object():
    assert list(errors_of({"criteria": ["yes", "no"]})) == ["criteria"]


def test_refuses_an_unknown_criterion():
    errors = errors_of({"criteria": {**GOOD["criteria"], "tone": {"value": "yes"}}})
    assert list(errors) == ["criteria.tone"]


def test_refuses_a_missing_criterion():
    criteria = dict(GOOD["criteria"])
    del criteria["answers"]
    assert errors_of({"criteria": criteria}) == {"criteria.answers": "this criterion needs an answer"}


def test_refuses_an_answer_that_is_not_an_object():
    assert errors_of({"criteria": {**GOOD["criteria"], "answers": "yes"}}) == {"criteria.answers": 'must be an object such as {"value": "yes"}'}


def test_refuses_an_unknown_answer_field():
    assert errors_of(answer("answers", why="because")) == {"criteria.answers.why": "unknown field"}


def test_refuses_a_missing_value():
    assert errors_of({"criteria": {**GOOD["criteria"], "answers": {}}}) == {"criteria.answers.value": "this field is required"}


@pytest.mark.parametrize("value", ["maybe", 1, 0.5, True])
def test_refuses_a_value_off_the_yes_partial_no_scale(value):
    errors = errors_of(answer("answers", value=value))
    assert list(errors) == ["criteria.answers.value"] and "yes, partial or no" in errors["criteria.answers.value"]


@pytest.mark.parametrize("value", [5, -1, 2.0, "3", False])
def test_refuses_a_value_off_the_integer_scale(value):
    errors = errors_of(answer("clarity", value=value))
    assert list(errors) == ["criteria.clarity.value"] and "0 to 4" in errors["criteria.clarity.value"]


def test_refuses_a_client_supplied_score():
    assert errors_of(answer("answers", score=0.2)) == {"criteria.answers.score": "set by the server from value; leave it out"}


def test_refuses_a_client_supplied_weight():
    assert errors_of(answer("answers", weight=100)) == {"criteria.answers.weight": "set by the study or the item; leave it out"}


def test_refuses_evidence_on_a_criterion_without_evidence():
    assert errors_of(answer("answers", evidence={"start": 0, "end": 5})) == {"criteria.answers.evidence": "this criterion takes no evidence span"}


def test_refuses_malformed_evidence():
    assert errors_of(answer("cites", evidence=[31, 34])) == {"criteria.cites.evidence": 'must be {"start": int, "end": int}'}


@pytest.mark.parametrize("start,end", [(5, 5), (10, 2), (-1, 3), (0, len(TEXT) + 1), (0.0, 3)])
def test_refuses_evidence_out_of_range(start, end):
    assert list(errors_of(answer("cites", evidence={"start": start, "end": end}))) == ["criteria.cites.evidence"]


def test_refuses_missing_required_evidence():
    criteria = dict(GOOD["criteria"])
    criteria["cites"] = {"value": "yes"}
    assert errors_of({"criteria": criteria}) == {"criteria.cites.evidence": "this criterion needs an evidence span when it is met"}


def test_required_evidence_is_not_asked_of_an_unmet_criterion():
    criteria = dict(GOOD["criteria"])
    criteria["cites"] = {"value": "no"}
    stored = RUBRIC.validate_response(CONFIG, UNIT, {"criteria": criteria})
    assert stored["criteria"]["cites"] == {"value": "no", "score": 0.0, "weight": stored["criteria"]["cites"]["weight"]}
