"""mqm: config parsing, response validation (one bad-input test per error), Unicode offsets,
weights and records."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotation.task_types import CandidateView, ConfigError, ResponseError, Score, UnitContent, get_task_type
from annotation.task_types.mqm import DEFAULT_TYPOLOGY, categories, error_weight, penalty


@pytest.fixture(autouse=True)
def _export_root():  # pure tests: override tests/conftest.py's Django/Celery autouse fixtures
    yield


@pytest.fixture(autouse=True)
def _celery_in_process():
    yield


MQM = get_task_type("mqm")
CONFIG = MQM.parse_config({})
TARGET = "Ich möchte Sie 👋 alle bitten."  # the emoji is 1 code point here, 2 UTF-16 units in a browser
SOURCE = "I want to ask you all."
UNIT = UnitContent(item_id=1, candidates=(CandidateView(11, "sys-a", TARGET),), source=SOURCE)


def err(start=0, end=3, category="Accuracy/Mistranslation", severity="major", **kw):
    return {"start": start, "end": end, "category": category, "severity": severity, **kw}


def errors_of(response, config=CONFIG, unit=UNIT):
    with pytest.raises(ResponseError) as exc:
        MQM.validate_response(config, unit, response)
    return exc.value.errors


# --- config --------------------------------------------------------------------------------


def test_defaults_follow_freitag_et_al_2021():
    assert CONFIG["typology"] == DEFAULT_TYPOLOGY
    assert "Fluency/Punctuation" in categories(CONFIG["typology"])
    assert "Other" in categories(CONFIG["typology"]) and "Non-translation" in categories(CONFIG["typology"])
    assert CONFIG["severities"] == ["minor", "major", "neutral"]  # critical is opt-in
    assert CONFIG["weights"] == {"major": 5, "minor": 1, "neutral": 0, "minor/Fluency/Punctuation": 0.1, "Non-translation": 25}
    assert CONFIG["max_errors"] == 5
    assert CONFIG["whole_segment_categories"] == ["Non-translation"]
    assert CONFIG["allow_source_spans"] is True and CONFIG["esa_score"] is False and CONFIG["allow_overlap"] is False
    assert MQM.parse_config(CONFIG) == CONFIG
    assert MQM.unit_candidates(CONFIG, [4, 5]) == [(4,), (5,)]


def test_enabling_critical_gives_it_weight_10():
    cfg = MQM.parse_config({"severities": ["minor", "major", "critical", "neutral"]})
    assert cfg["weights"]["critical"] == 10
    assert MQM.parse_config(cfg) == cfg


@pytest.mark.parametrize(
    "severity,category,weight",
    [
        ("major", "Accuracy/Mistranslation", 5),
        ("minor", "Accuracy/Mistranslation", 1),
        ("minor", "Fluency/Punctuation", 0.1),
        ("major", "Fluency/Punctuation", 5),  # only minor punctuation is discounted
        ("neutral", "Style/Awkward", 0),
        ("major", "Non-translation", 25),
        ("minor", "Non-translation", 25),  # the category key holds for any severity
    ],
)
def test_default_weights(severity, category, weight):
    assert error_weight(CONFIG, severity, category) == weight


def test_most_specific_weight_wins():
    cfg = MQM.parse_config({"weights": {"major": 5, "minor": 1, "neutral": 0, "Fluency": 2, "minor/Fluency": 0.5, "minor/Fluency/Spelling": 0.25}})
    assert error_weight(cfg, "major", "Fluency/Grammar") == 2
    assert error_weight(cfg, "minor", "Fluency/Grammar") == 0.5
    assert error_weight(cfg, "minor", "Fluency/Spelling") == 0.25
    assert error_weight(cfg, "minor", "Accuracy/Omission") == 1


@pytest.mark.parametrize(
    "raw,field",
    [
        ([], "task_config"),
        ({"critical": True}, "task_config.critical"),
        ({"esa_score": "yes"}, "task_config.esa_score"),
        ({"allow_overlap": 0}, "task_config.allow_overlap"),
        ({"allow_source_spans": None}, "task_config.allow_source_spans"),
        ({"typology": {}}, "task_config.typology"),
        ({"typology": ["Accuracy"]}, "task_config.typology"),
        ({"typology": {"Acc/uracy": []}}, "task_config.typology.Acc/uracy"),
        ({"typology": {"Accuracy": "Omission"}}, "task_config.typology.Accuracy"),
        ({"typology": {"Accuracy": ["Om/ission"]}}, "task_config.typology.Accuracy[0]"),
        ({"typology": {"Accuracy": ["Omission", "Omission"]}}, "task_config.typology.Accuracy"),
        ({"typology": {"Accuracy": [""]}}, "task_config.typology.Accuracy[0]"),
        ({"severities": []}, "task_config.severities"),
        ({"severities": ["major", "blocker"]}, "task_config.severities"),
        ({"severities": ["major", "major"]}, "task_config.severities"),
        ({"weights": [5, 1]}, "task_config.weights"),
        ({"weights": {"major": 5, "minor": 1, "neutral": 0, "critical": 10}}, "task_config.weights.critical"),
        ({"weights": {"major": 5, "minor": 1, "neutral": 0, "Accuracy/Nonsense": 3}}, "task_config.weights.Accuracy/Nonsense"),
        ({"weights": {"major": -5, "minor": 1, "neutral": 0}}, "task_config.weights.major"),
        ({"weights": {"major": "5", "minor": 1, "neutral": 0}}, "task_config.weights.major"),
        ({"weights": {"major": 5, "neutral": 0}}, "task_config.weights.minor"),
        ({"max_errors": 0}, "task_config.max_errors"),
        ({"max_errors": 2.5}, "task_config.max_errors"),
        ({"whole_segment_categories": ["Everything"]}, "task_config.whole_segment_categories[0]"),
        ({"whole_segment_categories": "Non-translation"}, "task_config.whole_segment_categories"),
    ],
)
def test_refuses_bad_config(raw, field):
    with pytest.raises(ConfigError) as exc:
        MQM.parse_config(raw)
    assert exc.value.field == field


def test_a_custom_typology_without_non_translation_needs_no_other_change():
    cfg = MQM.parse_config({"typology": {"Accuracy": ["Omission"], "Other": []}})
    assert cfg["whole_segment_categories"] == [] and cfg["weights"] == {"major": 5, "minor": 1, "neutral": 0}
    assert MQM.parse_config(cfg) == cfg


def test_no_limit_on_errors_with_null():
    cfg = MQM.parse_config({"max_errors": None})
    response = {"errors": [err(i, i + 1, severity="minor") for i in range(8)]}
    assert len(MQM.validate_response(cfg, UNIT, response)["errors"]) == 8


# --- valid responses -----------------------------------------------------------------------


def test_explicit_no_error():
    clean = MQM.validate_response(CONFIG, UNIT, {"errors": [], "no_error": True})
    assert clean == {"errors": [], "no_error": True}
    assert MQM.records(CONFIG, [11], clean).scores == (Score(11, "mqm", 0.0),)


def test_spans_are_code_point_offsets_into_the_stored_text():
    start = TARGET.index("👋")
    clean = MQM.validate_response(CONFIG, UNIT, {"errors": [err(start, start + 1, "Fluency/Character encoding", "minor", note="emoji")]})
    assert clean["errors"] == [
        {"start": start, "end": start + 1, "side": "target", "category": "Fluency/Character encoding", "severity": "minor", "note": "emoji"}
    ]
    assert TARGET[clean["errors"][0]["start"]:clean["errors"][0]["end"]] == "👋"
    # the last code point: end == len(text) is allowed (the UTF-16 length would be one more)
    MQM.validate_response(CONFIG, UNIT, {"errors": [err(len(TARGET) - 1, len(TARGET))]})
    assert errors_of({"errors": [err(len(TARGET) - 1, len(TARGET) + 1)]}) == {"errors.0.end": f"past the end of the target ({len(TARGET)} code points)"}


def test_source_spans_index_into_the_source():
    clean = MQM.validate_response(CONFIG, UNIT, {"errors": [err(0, len(SOURCE), "Source error", "minor", side="source")]})
    assert clean["errors"][0]["side"] == "source"
    assert errors_of({"errors": [err(0, len(SOURCE) + 1, side="source")]}) == {"errors.0.end": f"past the end of the source ({len(SOURCE)} code points)"}


def test_whole_segment_category_takes_no_span():
    for error in ({"category": "Non-translation", "severity": "major"}, err(0, 0, "Non-translation")):
        clean = MQM.validate_response(CONFIG, UNIT, {"errors": [error]})
        assert clean["errors"][0]["start"] == 0 and clean["errors"][0]["end"] == 0
    assert MQM.records(CONFIG, [11], clean).scores == (Score(11, "mqm", -25.0),)


def test_records_negated_penalty_with_default_weights():
    response = MQM.validate_response(
        CONFIG,
        UNIT,
        {"errors": [err(0, 3), err(4, 10, "Fluency/Punctuation", "minor"), err(11, 14, "Style/Awkward", "minor"), err(15, 16, "Other", "neutral")]},
    )
    assert MQM.records(CONFIG, [11], response).scores == (Score(11, "mqm", -6.1),)
    assert penalty(CONFIG, [err(0, 1, "Fluency/Punctuation", "minor")] * 3) == 0.3


def test_esa_score_is_recorded():
    cfg = MQM.parse_config({"esa_score": True})
    clean = MQM.validate_response(cfg, UNIT, {"errors": [], "no_error": True, "score": 87})
    assert clean["score"] == 87
    assert MQM.records(cfg, [11], clean).scores == (Score(11, "mqm", 0.0), Score(11, "esa", 87.0))


def test_overlap_allowed_when_configured():
    cfg = MQM.parse_config({"allow_overlap": True})
    assert len(MQM.validate_response(cfg, UNIT, {"errors": [err(0, 5), err(3, 8)]})["errors"]) == 2


def test_adjacent_spans_do_not_overlap_and_sides_are_separate():
    MQM.validate_response(CONFIG, UNIT, {"errors": [err(0, 3), err(3, 6), err(0, 3, side="source")]})


@settings(max_examples=200, deadline=None)
@given(text=st.text(min_size=1, max_size=30), data=st.data())
def test_any_in_range_span_of_any_unicode_text_is_accepted_and_stable(text, data):
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    unit = UnitContent(item_id=1, candidates=(CandidateView(1, "s", text),), source="")
    clean = MQM.validate_response(CONFIG, unit, {"errors": [err(start, end)]})
    assert MQM.validate_response(CONFIG, unit, clean) == clean
    assert text[clean["errors"][0]["start"]:clean["errors"][0]["end"]] == text[start:end]


# --- one test per validation error -------------------------------------------------------


def test_refuses_a_response_that_is_not_an_object():
    assert errors_of("no errors") == {"response": "must be an object"}


def test_refuses_a_unit_with_several_candidates():
    unit = UnitContent(item_id=1, candidates=(CandidateView(1, "a", "x"), CandidateView(2, "b", "y")))
    assert errors_of({"no_error": True}, unit=unit) == {"unit": "an mqm unit shows exactly one candidate"}


def test_refuses_unknown_field():
    assert errors_of({"no_error": True, "rating": 3}) == {"rating": "unknown field"}


def test_refuses_no_error_that_is_not_a_boolean():
    assert "no_error" in errors_of({"errors": [], "no_error": "yes"})


def test_refuses_errors_that_are_not_a_list():
    assert errors_of({"errors": {"0": err()}}) == {"errors": "must be a list of error spans"}


def test_refuses_too_many_errors():
    errors = errors_of({"errors": [err(i, i + 1, severity="minor") for i in range(6)]})
    assert errors == {"errors": "at most 5 errors per segment (got 6)"}


def test_refuses_an_error_that_is_not_an_object():
    assert list(errors_of({"errors": ["major"]})) == ["errors.0"]


def test_refuses_unknown_error_field():
    assert errors_of({"errors": [err(colour="red")]}) == {"errors.0.colour": "unknown field"}


def test_refuses_missing_category():
    error = err()
    del error["category"]
    assert errors_of({"errors": [error]}) == {"errors.0.category": "this field is required"}


def test_refuses_unknown_category():
    assert errors_of({"errors": [err(category="Accuracy/Nonsense")]}) == {"errors.0.category": "'Accuracy/Nonsense' is not a category of this study"}


def test_refuses_a_bare_top_level_category_that_has_subcategories():
    assert list(errors_of({"errors": [err(category="Accuracy")]})) == ["errors.0.category"]


def test_refuses_missing_severity():
    error = err()
    del error["severity"]
    assert errors_of({"errors": [error]}) == {"errors.0.severity": "this field is required"}


def test_refuses_a_severity_not_enabled():
    errors = errors_of({"errors": [err(severity="critical")]})
    assert list(errors) == ["errors.0.severity"] and "minor, major, neutral" in errors["errors.0.severity"]


def test_refuses_a_note_that_is_not_text():
    assert errors_of({"errors": [err(note=5)]}) == {"errors.0.note": "must be text"}


def test_refuses_a_note_too_long():
    assert errors_of({"errors": [err(note="x" * 1001)]}) == {"errors.0.note": "at most 1000 characters"}


def test_refuses_a_span_on_a_whole_segment_category():
    assert list(errors_of({"errors": [err(2, 5, "Non-translation")]})) == ["errors.0.start"]


def test_refuses_a_source_side_on_a_whole_segment_category():
    assert list(errors_of({"errors": [{"category": "Non-translation", "severity": "major", "side": "source"}]})) == ["errors.0.side"]


def test_refuses_an_unknown_side():
    assert errors_of({"errors": [err(side="reference")]}) == {"errors.0.side": 'must be "target" or "source"'}


def test_refuses_source_spans_when_not_allowed():
    cfg = MQM.parse_config({"allow_source_spans": False})
    assert errors_of({"errors": [err(side="source")]}, config=cfg) == {"errors.0.side": "this study does not take spans in the source"}


def test_refuses_a_source_span_when_the_unit_has_no_source():
    unit = UnitContent(item_id=1, candidates=(CandidateView(11, "sys-a", TARGET),))
    assert errors_of({"errors": [err(side="source")]}, unit=unit) == {"errors.0.side": "this unit has no source text to mark"}


def test_refuses_missing_start():
    error = err()
    del error["start"]
    assert errors_of({"errors": [error]}) == {"errors.0.start": "this field is required"}


def test_refuses_missing_end():
    error = err()
    del error["end"]
    assert errors_of({"errors": [error]}) == {"errors.0.end": "this field is required"}


@pytest.mark.parametrize("start,end,field", [("0", 3, "errors.0.start"), (0, 3.0, "errors.0.end"), (True, 3, "errors.0.start")])
def test_refuses_offsets_that_are_not_integers(start, end, field):
    assert errors_of({"errors": [err(start, end)]}) == {field: "must be an integer"}


@pytest.mark.parametrize("start,end", [(5, 5), (6, 2), (-1, 2), (len(TARGET), len(TARGET) + 1)])
def test_refuses_empty_reversed_or_negative_spans(start, end):
    assert list(errors_of({"errors": [err(start, end)]})) == ["errors.0.start"]


def test_refuses_a_span_past_the_end():
    assert list(errors_of({"errors": [err(0, len(TARGET) + 1)]})) == ["errors.0.end"]


def test_refuses_no_error_together_with_errors():
    assert errors_of({"errors": [err()], "no_error": True}) == {"no_error": "cannot be true when errors are marked"}


def test_refuses_an_empty_response_without_explicit_no_error():
    assert list(errors_of({"errors": []})) == ["no_error"]
    assert list(errors_of({})) == ["no_error"]


def test_refuses_overlapping_spans():
    errors = errors_of({"errors": [err(0, 10), err(2, 3, severity="minor"), err(5, 12, severity="minor")]})
    assert set(errors) == {"errors.1.start", "errors.2.start"}
    assert errors["errors.1.start"].startswith("overlaps error 0")


def test_refuses_a_missing_esa_score():
    cfg = MQM.parse_config({"esa_score": True})
    assert errors_of({"no_error": True}, config=cfg) == {"score": "this field is required"}


@pytest.mark.parametrize("score", [-1, 101, 50.5, "80", True])
def test_refuses_an_esa_score_off_the_range(score):
    cfg = MQM.parse_config({"esa_score": True})
    assert errors_of({"no_error": True, "score": score}, config=cfg) == {"score": "must be an integer from 0 to 100"}


def test_refuses_a_score_when_the_study_does_not_collect_one():
    assert errors_of({"no_error": True, "score": 90}) == {"score": "this study does not collect an overall score"}
