"""Swapped repeats: a share of an annotator's pairs comes back to them later, sides swapped,
through the real lease and submit services; the report's flip rate is computed from them."""

import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from annotation.errors import Invalid
from annotation.models import Annotation, Assignment, Candidate, Unit
from annotation.report import report_text, study_report
from annotation.selectors import unit_payload
from annotation.services import annotation_submit, items_import, study_update
from elicitation.services import assignment_next_for_annotator
from tests.factories import PASSWORD, add_annotator, make_study, make_user

pytestmark = pytest.mark.django_db


def run(study, users, answer):
    """Every annotator takes units until none is left; returns each one's leases in order."""
    seen = {u.username: [] for u in users}
    for user in users:
        k = 0
        while (a := assignment_next_for_annotator(study=study, user=user)) is not None:
            seen[user.username].append(a)
            annotation_submit(assignment_id=a.id, user=user, response=answer(user, a), idempotency_key=f"{user.pk}-{k}", duration_ms=4000)
            k += 1
    return seen


def positional(user, a):
    return {"choice": a.display_order[0]}  # always the left one: flips on every repeat


def by_content(user, a):
    return {"choice": Candidate.objects.get(pk=a.display_order[0]).pk if Candidate.objects.get(pk=a.display_order[0]).system == "sys-a"
            else a.display_order[1]}  # always sys-a: never flips


def test_share_one_repeats_every_pair_in_mirrored_order_and_the_report_measures_the_flips():
    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=8, redundancy=2, quality={"repeat_share": 1.0, "repeat_gap": 3})
    left, loyal = add_annotator(study, "left"), add_annotator(study, "loyal")
    seen = run(study, [left], positional) | run(study, [loyal], by_content)

    for user in (left, loyal):
        leases = seen[user.username]
        regular = [a for a in leases if a.unit.kind == "regular"]
        repeats = [a for a in leases if a.unit.kind == "repeat"]
        assert len(regular) == 8 and len(repeats) == 8  # share 1.0: every pair once more
        position = {a.unit_id: i for i, a in enumerate(leases)}
        for r in repeats:
            original = Assignment.objects.get(unit=r.unit.repeat_of, annotator=user)
            assert r.unit.reserved_for_id == user.pk and r.unit.candidate_ids == original.unit.candidate_ids
            assert r.display_order == original.display_order[::-1]  # the mirror of what they saw
            assert r.strategy == "repeat"
        # a gap of at least 3 other units before a repeat, while regular units were left
        last_regular = max(position[a.unit_id] for a in regular)
        for r in repeats:
            if position[r.unit_id] < last_regular:
                assert position[r.unit_id] - position[r.unit.repeat_of_id] > 3
        # the annotator cannot tell: the payload is that of any unit
        payload = unit_payload(repeats[0])
        assert set(payload) == set(unit_payload(regular[0])) and "repeat" not in json.dumps(payload)

    # repeats count neither towards redundancy nor the study's progress
    assert all(u.n_done == 2 for u in Unit.objects.filter(study=study, kind="regular"))
    report = study_report(study, n_boot=20)
    assert report["counts"]["regular"] == 16 and report["counts"]["repeat"] == 16
    assert report["progress"]["completion"]["judgments"] == 16
    flips = report["bias"]["swapped_repeats"]
    assert flips["repeats"] == 16 and flips["share"] == 1.0
    assert flips["overall"]["n"] == 16 and flips["overall"]["successes"] == 8 and flips["overall"]["rate"] == 0.5
    per = {r["annotator"]: r for r in flips["per_annotator"]}
    assert per["left"]["rate"] == 1.0 and per["left"]["n"] == 8
    assert per["loyal"]["rate"] == 0.0 and per["loyal"]["n"] == 8
    text = report_text(report)
    assert "16 swapped repeats" in text and "swapped repeats: preference flipped in 0.500" in text and "of 16 repeated pairs" in text
    # the ranking and the position bias are those of the regular judgments only
    assert report["bias"]["position"]["overall"]["n"] == 16
    assert sum(r["n"] for r in report["ranking"]["bradley_terry"]["systems"]) == 2 * 16


def test_a_smaller_share_gives_that_share_and_none_without_it():
    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=10, redundancy=1, quality={"repeat_share": 0.25, "repeat_gap": 2})
    ann = add_annotator(study, "ann")
    seen = run(study, [ann], positional)["ann"]
    assert sum(a.unit.kind == "repeat" for a in seen) == 2  # floor(0.25 x 10)
    plain = make_study(owner, slug="plain", items=5, redundancy=1)
    other = add_annotator(plain, "other")
    assert all(a.unit.kind == "regular" for a in run(plain, [other], positional)["other"])


def test_exports_leave_repeats_out_of_training_rows(tmp_path):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=6, redundancy=1, quality={"repeat_share": 1.0, "repeat_gap": 1})
    run(study, [add_annotator(study, "ann")], by_content)
    assert Annotation.objects.filter(study=study, unit__kind="repeat").count() == 6
    call_command("export", study.slug, "--format", "pairwise-judgments", "--output", str(tmp_path / "pj"))
    rows = (tmp_path / "pj" / "pairwise_judgments.jsonl").read_text().splitlines()
    assert len(rows) == 6  # one per regular judgment: a repeat does not count twice
    call_command("export", study.slug, "--format", "raw", "--output", str(tmp_path / "raw"), "--options", '{"include_qc_units": true}')
    raw = [json.loads(line) for line in (tmp_path / "raw" / "raw.jsonl").read_text().splitlines()]
    assert sorted(r["unit_kind"] for r in raw) == ["regular"] * 6 + ["repeat"] * 6  # kept on request, and marked


@pytest.mark.parametrize(
    ("quality", "task_type", "field"),
    [
        ({"repeat_share": 1.5}, "pairwise", "quality.repeat_share"),
        ({"repeat_gap": 2.5}, "pairwise", "quality.repeat_gap"),
        ({"repeat_share": 0.2}, "likert", "quality.repeat_share"),
    ],
)
def test_bad_repeat_settings_name_the_field(quality, task_type, field):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=0, task_type=task_type)
    with pytest.raises(Invalid) as exc:
        study_update(study=study, changes={"quality": quality})
    assert field in exc.value.errors


def test_the_lease_service_mixes_in_gold_units_and_attention_checks(seeded):
    # seeded: each lease draws a check at random; unseeded, fewer than 3 gold draws among the
    # ~70 leases happened about once in 1,400 runs
    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=40, redundancy=1, quality={"gold_rate": 0.2, "attention_rate": 0.2})
    items_import(study=study, lines=[json.dumps({"id": f"g{i}", "prompt": "2+2?", "candidates": [
        {"system": "sys-a", "text": "4"}, {"system": "sys-b", "text": "5"}], "meta": {"gold": {"choice": "sys-a"}}}) for i in range(3)])
    ann = add_annotator(study, "ann")
    seen = run(study, [ann], by_content)["ann"]
    kinds = [a.unit.kind for a in seen]
    assert kinds.count("regular") == 40 and kinds.count("gold") == 3 and kinds.count("attention") >= 1
    assert {a.strategy for a in seen if a.unit.kind != "regular"} <= {"gold", "attention"}
    checks = Annotation.objects.filter(annotator=ann).exclude(unit__kind="regular")
    assert checks.filter(unit__kind="gold", qc_passed=True).count() == 3  # sys-a is the gold answer
    membership = ann.memberships.get(study=study)
    assert membership.qc_passed + membership.qc_failed == checks.count()


def test_the_study_page_shows_the_repeat_share(client):
    owner = make_user("owner", researcher=True)
    make_study(owner, items=1, quality={"repeat_share": 0.1, "repeat_gap": 4})
    make_study(owner, slug="off", items=1)
    client.login(username="owner", password=PASSWORD)
    html = client.get(reverse("study_detail", args=["s1"])).content.decode()
    assert "0.1 of each annotator's pairs, sides swapped, after at least 4 other units" in html
    assert 'id="q-repeat-share">off<' in client.get(reverse("study_detail", args=["off"])).content.decode()


@pytest.mark.parametrize("task_type", ["pairwise", "likert", "mqm", "rubric"])
def test_attention_checks_are_leased_for_every_task_type(task_type, seeded):
    """Through the lease service, each task type's attention check is served (never to the
    same annotator twice for one item), answered and scored like any unit. Seeded: with the
    draws left to chance, twelve pairs would all come out regular once in 4,000 runs."""
    config = {"rubric": {"criteria": [{"id": "ok", "text": "Answers the question"}]}}.get(task_type, {})
    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=0, redundancy=1, task_type=task_type, task_config=config, quality={"attention_rate": 0.5})
    items_import(study=study, lines=[json.dumps({"id": f"q{k}", "prompt": f"Question {k}?", "candidates": [
        {"system": s, "text": f"a rather long answer number {k} from {s} with several words"} for s in ("sys-a", "sys-b")]})
        for k in range(12)])
    ann = add_annotator(study, "ann")
    answers = {
        "pairwise": lambda a: {"choice": a.display_order[0]},
        "likert": lambda a: {"ratings": {str(c): {"overall": 1} for c in a.display_order}},
        "mqm": lambda a: {"errors": [], "no_error": True},
        "rubric": lambda a: {"criteria": {"ok": {"value": "no"}}},
    }[task_type]
    seen = run(study, [ann], lambda user, a: answers(a))["ann"]
    checks = [a for a in seen if a.unit.kind == "attention"]
    assert checks, "no attention check was leased"
    assert len({a.unit.item_id for a in checks}) == len(checks)
    scored = Annotation.objects.filter(annotator=ann, unit__kind="attention")
    assert scored.count() == len(checks) and all(a.qc_passed is not None for a in scored)
    degraded = set(Candidate.objects.filter(item__study=study, system="__attention-check__").values_list("id", flat=True))
    assert all(degraded & set(a.display_order) for a in checks)  # each shows a degraded copy
