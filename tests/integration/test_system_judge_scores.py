"""System-level judge scores (a corpus BLEU, a leaderboard score): rows without an item id in
the judge-score file, stored per study and system, and meta-evaluated at system level against
the humans' system scores (Bradley–Terry for pairwise studies, mean scores otherwise)."""

import io
import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from annotation.errors import Invalid
from annotation.models import Study
from annotation.report import study_report
from annotation.services import annotation_submit, items_import
from elicitation.services import assignment_next_for_annotator
from exports.services import judge_scores_import
from tests.factories import add_annotator, make_study, make_user

pytestmark = pytest.mark.django_db

QUALITY = {"sys-a": 3, "sys-b": 2, "sys-c": 1, "sys-d": 0}
CORPUS = {"sys-a": 31.5, "sys-b": 30.1, "sys-c": 24.0, "sys-d": 27.2}  # one pair out of order


def items(n=8):
    return [json.dumps({"id": f"i{k}", "prompt": f"p{k}", "candidates": [
        {"system": s, "text": f"{s} says {k}", "judges": {"seg": q + (k % 3) * 0.1}} for s, q in QUALITY.items()]}) for k in range(n)]


def judged(study, respond):
    users = [add_annotator(study, f"ann{k}") for k in range(2)]
    for user in users:
        while (a := assignment_next_for_annotator(study=study, user=user)) is not None:
            annotation_submit(assignment_id=a.id, user=user, response=respond(a), idempotency_key=f"{user.pk}-{a.pk}")


def system_of(cid):
    from annotation.models import Candidate

    return Candidate.objects.get(pk=cid).system


def test_system_level_scores_of_a_pairwise_study(tmp_path):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="pw", items=0, redundancy=1, systems=tuple(QUALITY))
    items_import(study=study, lines=items())
    judged(study, lambda a: {"choice": max(a.display_order, key=lambda c: QUALITY[system_of(c)])})
    path = tmp_path / "corpus.csv"
    path.write_text("item_id,system,judge,score\n" + "".join(f",{s},corpus-bleu,{v}\n" for s, v in CORPUS.items()), encoding="utf-8")
    out = io.StringIO()
    call_command("import_scores", "pw", str(path), stdout=out)
    assert "Imported 4 scores" in out.getvalue()
    assert Study.objects.get(slug="pw").judge_system_scores == {"corpus-bleu": CORPUS}
    report = study_report(study, n_boot=30)
    assert "corpus-bleu" in report["judges"]["judges"]
    seg = {s["judge"]: s for s in report["judges"]["segment"]}
    assert seg["corpus-bleu"]["n"] == 0  # no candidate scores: system level only
    sysl = {s["judge"]: s for s in report["judges"]["system"]}["corpus-bleu"]
    assert sysl["judge_scores"] == "imported at system level" and sysl["scores"] == CORPUS
    bt = {r["system"]: r["score"] for r in report["ranking"]["bradley_terry"]["systems"]}
    systems = sorted(bt)
    human, metric = np.array([bt[s] for s in systems]), np.array([CORPUS[s] for s in systems])
    assert sysl["pearson"]["estimate"] == pytest.approx(float(np.corrcoef(human, metric)[0, 1]), abs=1e-12)
    assert sysl["kendall_tau_b"]["estimate"] == pytest.approx(4 / 6)  # 5 of 6 pairs in order: (5 - 1) / 6
    assert sysl["pearson"]["low"] <= sysl["pearson"]["estimate"] <= sysl["pearson"]["high"]
    # a judge with candidate scores keeps its segment level
    assert seg["seg"]["n"] > 0


def test_system_level_scores_of_a_likert_study_and_bad_rows():
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="lk", items=0, redundancy=1, task_type="likert", systems=tuple(QUALITY))
    items_import(study=study, lines=items())
    judged(study, lambda a: {"ratings": {str(a.display_order[0]): {"overall": 1 + QUALITY[system_of(a.display_order[0])]}}})
    lines = ["item_id,system,judge,score\n"] + [f",{s},lb,{v}\n" for s, v in CORPUS.items()]
    assert judge_scores_import(study=study, lines=lines, format_name="csv")["scores"] == 4
    jsonl = [json.dumps({"system": "sys-a", "judge": "lb2", "score": 1.0}) + "\n"]
    judge_scores_import(study=study, lines=jsonl, format_name="jsonl")
    report = study_report(study, n_boot=0)
    sysl = {s["judge"]: s for s in report["judges"]["system"]}["lb"]
    human = np.array([1 + QUALITY[s] for s in sorted(QUALITY)], dtype=float)
    assert sysl["pearson"]["estimate"] == pytest.approx(float(np.corrcoef(human, [CORPUS[s] for s in sorted(QUALITY)])[0, 1]), abs=1e-12)
    for bad, where in (([",sys-z,lb,1\n"], "line 2, system"), ([",sys-a,lb,1\n", ",sys-a,lb,2\n"], "line 3, judge")):
        with pytest.raises(Invalid) as exc:
            judge_scores_import(study=study, lines=["item_id,system,judge,score\n", *bad], format_name="csv")
        assert where in exc.value.errors
    assert Study.objects.get(slug="lk").judge_system_scores["lb"] == CORPUS  # nothing of a refused file stored
    with pytest.raises(CommandError):
        call_command("import_scores", "lk", "/nonexistent.csv")
