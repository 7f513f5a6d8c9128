"""Each task type through the real services: import, lease, submit, records."""

import json

import pytest

from annotation.errors import Invalid
from annotation.models import Annotation, Item
from annotation.selectors import unit_payload
from annotation.services import annotation_submit, items_import, study_create
from elicitation.services import assignment_next_for_annotator
from tests.factories import add_annotator, make_user

pytestmark = pytest.mark.django_db


def study_of(task_type, task_config, slug="t"):
    owner = make_user("owner", researcher=True)
    return study_create(owner=owner, spec={"slug": slug, "name": slug, "task_type": task_type, "task_config": task_config, "redundancy": 1, "status": "live"})


def test_rubric_with_item_criteria_refuses_an_item_without_them():
    study = study_of("rubric", {"criteria_source": "item"})
    good = {"id": "a", "prompt": "p", "candidates": [{"system": "s", "text": "t"}], "meta": {"rubric": [{"id": "c1", "text": "Cites a source"}]}}
    bad = {"id": "b", "prompt": "p", "candidates": [{"system": "s", "text": "t"}]}
    with pytest.raises(Invalid) as exc:
        items_import(study=study, lines=[json.dumps(good), json.dumps(bad)])
    assert "line 2, meta.rubric" in exc.value.errors
    assert not Item.objects.exists()
    items_import(study=study, lines=[json.dumps(good)])
    ann = add_annotator(study, "ann")
    a = assignment_next_for_annotator(study=study, user=ann)
    payload = unit_payload(a)
    assert [c["id"] for c in payload["task"]["criteria"]] == ["c1"]
    cid = a.display_order[0]
    annotation_submit(assignment_id=a.id, user=ann, response={"criteria": {"c1": {"value": "yes"}}}, idempotency_key="k")
    assert Annotation.objects.get().response["criteria"]["c1"]["value"] == "yes"
    assert cid in a.unit.candidate_ids


def test_mqm_span_on_the_source_uses_the_prompt_text():
    study = study_of("mqm", {})
    items_import(study=study, lines=[json.dumps({"id": "s1", "prompt": "Grüße aus Köln", "candidates": [{"system": "mt", "text": "Greetings from Colonge"}]})])
    ann = add_annotator(study, "ann")
    a = assignment_next_for_annotator(study=study, user=ann)
    bad = {"errors": [{"start": 10, "end": 99, "side": "source", "category": "Accuracy/Mistranslation", "severity": "major"}], "no_error": False}
    with pytest.raises(Invalid) as exc:
        annotation_submit(assignment_id=a.id, user=ann, response=bad, idempotency_key="k0")
    assert any(k.startswith("response.errors[0]") or k.startswith("response.errors.0") for k in exc.value.errors), exc.value.errors
    good = {"errors": [{"start": 15, "end": 22, "side": "target", "category": "Fluency/Spelling", "severity": "minor"}], "no_error": False}
    annotation_submit(assignment_id=a.id, user=ann, response=good, idempotency_key="k1")
    assert Annotation.objects.count() == 1


def test_likert_needs_every_aspect():
    study = study_of("likert", {"aspects": [{"name": "helpfulness", "scale": [1, 5]}, {"name": "correctness", "scale": [0, 4]}]})
    items_import(study=study, lines=[json.dumps({"id": "x", "prompt": "p", "candidates": [{"system": "s", "text": "t"}]})])
    ann = add_annotator(study, "ann")
    a = assignment_next_for_annotator(study=study, user=ann)
    cid = str(a.display_order[0])
    with pytest.raises(Invalid) as exc:
        annotation_submit(assignment_id=a.id, user=ann, response={"ratings": {cid: {"helpfulness": 3}}}, idempotency_key="k0")
    assert f"response.ratings.{cid}.correctness" in exc.value.errors
    annotation_submit(assignment_id=a.id, user=ann, response={"ratings": {cid: {"helpfulness": 3, "correctness": 4}}}, idempotency_key="k1")
    assert Annotation.objects.count() == 1
