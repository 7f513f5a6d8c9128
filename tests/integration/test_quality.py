"""Gold units, attention checks, exclusion and crowd entry."""

import json

import numpy as np
import pytest

from annotation.errors import Invalid, NotAllowed
from annotation.models import Annotation, StudyMembership, Unit
from annotation.quality import qc_record, qc_unit_for
from annotation.services import annotation_submit, crowd_enter, items_import
from tests.factories import add_annotator, make_study, make_user

pytestmark = pytest.mark.django_db


def gold_item(i, preferred="sys-a"):
    return json.dumps({
        "id": f"gold-{i}", "prompt": "2+2?",
        "candidates": [{"system": "sys-a", "text": "4"}, {"system": "sys-b", "text": "5"}],
        "meta": {"gold": {"choice": preferred}},
    })


def test_gold_items_become_gold_units_with_the_expected_candidate():
    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=2)
    items_import(study=study, lines=[gold_item(1)])
    unit = Unit.objects.get(kind="gold")
    assert unit.gold["choice"] == unit.item.candidates.get(system="sys-a").id


@pytest.mark.parametrize(("gold", "field"), [({"choice": "sys-z"}, "meta.gold.choice"), ({"winner": "sys-a"}, "meta.gold")])
def test_bad_gold_names_the_field_and_stores_nothing(gold, field):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=0)
    line = json.dumps({"id": "g", "prompt": "p", "candidates": [{"system": "sys-a", "text": "4"}, {"system": "sys-b", "text": "5"}], "meta": {"gold": gold}})
    with pytest.raises(Invalid) as exc:
        items_import(study=study, lines=[line])
    assert f"line 1, {field}" in exc.value.errors
    assert not Unit.objects.exists()


def test_failing_checks_excludes_the_annotator():
    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=1, quality={"min_pass_rate": 0.6, "min_checks": 2})
    items_import(study=study, lines=[gold_item(1), gold_item(2)])
    ann = add_annotator(study, "ann")
    for unit in Unit.objects.filter(kind="gold"):
        wrong = unit.item.candidates.get(system="sys-b").id
        assert qc_record(study=study, unit=unit, user=ann, response={"choice": wrong}) is False
    membership = StudyMembership.objects.get(user=ann)
    assert membership.excluded and "0 of 2" in membership.excluded_reason


def test_attention_check_pits_a_candidate_against_its_garbled_copy():
    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=3, quality={"attention_rate": 0.5})
    ann = add_annotator(study, "ann")
    rng = np.random.default_rng(0)
    picked = None
    for _ in range(20):
        picked = qc_unit_for(study, ann, rng)
        if picked:
            break
    unit, rate = picked
    assert unit.kind == "attention" and rate == 0.5
    real, degraded = (unit.item.candidates.get(id=c) for c in unit.candidate_ids)
    assert degraded.system == "__attention-check__" and degraded.text != real.text
    assert unit.gold == {"choice": real.id}


def test_crowd_entry_makes_a_pseudonymous_annotator_and_refuses_impersonation():
    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=2, crowd={"platform": "prolific", "completion_code": "C0DE", "quota": 2})
    s, user = crowd_enter(token=study.invite_token, params={"PROLIFIC_PID": "worker1", "STUDY_ID": "x", "SESSION_ID": "sess1"})
    assert "worker1" not in user.username and user.username.startswith("prolific-")
    _, again = crowd_enter(token=study.invite_token, params={"PROLIFIC_PID": "worker1", "SESSION_ID": "sess1"})
    assert again.pk == user.pk
    with pytest.raises(NotAllowed, match="another session"):
        crowd_enter(token=study.invite_token, params={"PROLIFIC_PID": "worker1", "SESSION_ID": "stolen"})
    with pytest.raises(Invalid, match="PROLIFIC_PID"):
        crowd_enter(token=study.invite_token, params={"PROLIFIC_PID": "<script>", "SESSION_ID": "s"})
    assert StudyMembership.objects.filter(study=study, role="annotator").count() == 1


def test_gold_answers_are_recorded_on_the_annotation():
    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=0, quality={"gold_rate": 0.5})
    items_import(study=study, lines=[gold_item(1)])
    ann = add_annotator(study, "ann")
    unit = Unit.objects.get(kind="gold")
    from annotation.models import Assignment
    from django.utils import timezone
    from datetime import timedelta

    a = Assignment.objects.create(study=study, unit=unit, annotator=ann, strategy="gold", propensity=0.5,
                                  display_order=unit.candidate_ids, expires_at=timezone.now() + timedelta(minutes=5))
    annotation_submit(assignment_id=a.id, user=ann, response={"choice": unit.gold["choice"]}, idempotency_key="g1")
    assert Annotation.objects.get().qc_passed is True
    assert StudyMembership.objects.get(user=ann).qc_passed == 1


def test_excluded_annotators_get_no_more_units_and_crowd_quota_stops_leasing():
    from elicitation.services import assignment_next_for_annotator

    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=5, crowd={"platform": "prolific", "completion_code": "C0DE", "quota": 2})
    _, worker = crowd_enter(token=study.invite_token, params={"PROLIFIC_PID": "w1", "SESSION_ID": "s1"})
    for i in range(2):
        a = assignment_next_for_annotator(study=study, user=worker)
        annotation_submit(assignment_id=a.id, user=worker, response={"choice": "tie"}, idempotency_key=f"q{i}")
    assert assignment_next_for_annotator(study=study, user=worker) is None  # quota done: no lease left blocking a unit

    ann = add_annotator(study, "ann")
    StudyMembership.objects.filter(user=ann).update(excluded=True, excluded_reason="failed checks")
    with pytest.raises(NotAllowed, match="excluded"):
        assignment_next_for_annotator(study=study, user=ann)
