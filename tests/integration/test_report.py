"""The study report on small synthetic studies driven through the real services (lease with
assignment_next_for_annotator, submit with annotation_submit): it finds a planted position
bias and the planted system order, keeps gold units and excluded annotators out of the
statistics, covers every task type, compares elicitations, and reads the study with a fixed
number of queries whatever its size."""

import json
from datetime import timedelta

import numpy as np
import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

import prefstats as ps
from annotation.errors import Invalid
from annotation.models import Annotation, Assignment, Candidate, StudyMembership, Unit
from annotation.report import study_report
from annotation.services import annotation_submit, items_import
from elicitation.services import assignment_next_for_annotator
from tests.factories import add_annotator, make_study, make_user

pytestmark = pytest.mark.django_db

SYSTEMS = ("sys-a", "sys-b", "sys-c")
QUALITY = {"sys-a": 2.0, "sys-b": 1.0, "sys-c": 0.0}


def items(n, prefix="it"):
    """Items whose candidates carry a reward model that knows the quality and a metric that
    has it backwards; sys-a writes the longest answers."""
    out = []
    for i in range(n):
        out.append({
            "id": f"{prefix}-{i}",
            "prompt": f"Question {i}?",
            "candidates": [
                {
                    "system": s,
                    "text": f"{s} says " + "word " * (3 + 2 * int(QUALITY[s])) + f"about {i}",
                    "judges": {"rm/oracle": QUALITY[s] + 0.1 * ((i * 7 + k) % 3), "bleu": 10.0 * (2 - QUALITY[s]) + (i % 2)},
                }
                for k, s in enumerate(SYSTEMS)
            ],
        })
    return out


def study_with_items(owner, slug, n_items, task_type="pairwise", task_config=None, **spec):
    study = make_study(owner, slug=slug, items=0, redundancy=spec.pop("redundancy", 3), task_type=task_type,
                       task_config=task_config or {}, **spec)
    items_import(study=study, lines=[json.dumps(i) for i in items(n_items)])
    return study


def drive(study, annotators, respond, duration_ms=4000):
    """Every annotator asks for units and answers them, in turns, until none is left."""
    systems = dict(Candidate.objects.filter(item__study=study).values_list("id", "system"))
    active = list(annotators)
    turn = 0
    while active:
        for user in list(active):
            a = assignment_next_for_annotator(study=study, user=user)
            if a is None:
                active.remove(user)
                continue
            turn += 1
            shown = [(cid, systems[cid]) for cid in a.display_order]
            annotation_submit(assignment_id=a.id, user=user, response=respond(user, shown, turn),
                              idempotency_key=f"k{a.id}", duration_ms=duration_ms if turn % 5 else 500)


def pairwise_voter(rng, position_share):
    """With probability `position_share` the first shown candidate wins; otherwise the better
    system (ties never)."""
    def respond(user, shown, turn):
        if rng.random() < position_share[user.username]:
            return {"choice": shown[0][0]}
        best = max(shown, key=lambda c: QUALITY[c[1]])
        return {"choice": best[0]}
    return respond


@pytest.fixture
def pairwise_study(seeded):
    owner = make_user("owner", researcher=True)
    study = study_with_items(owner, "pw", 20, quality={"min_seconds_per_unit": 2})
    names = ["biased-1", "biased-2", "biased-3", "fair"]
    users = [add_annotator(study, n) for n in names]
    share = {"biased-1": 0.6, "biased-2": 0.6, "biased-3": 0.6, "fair": 0.0}
    drive(study, users, pairwise_voter(np.random.default_rng(5), share))
    return study


def test_pairwise_report_finds_position_bias_and_the_system_order(pairwise_study):
    report = study_report(pairwise_study)
    assert report["counts"]["regular"] == 60 * 3 and report["counts"]["analysed"] == 180
    pos = report["bias"]["position"]
    assert pos["overall"]["n"] == 180
    assert pos["overall"]["low"] > 0.6 and pos["overall"]["p_value"] < 1e-6
    per = {r["annotator"]: r for r in pos["per_annotator"]}
    assert per["fair"]["rate"] < 0.75 and per["fair"]["p_value"] > 0.001
    assert all(per[f"biased-{k}"]["rate"] > 0.65 and per[f"biased-{k}"]["low"] > 0.5 for k in (1, 2, 3))
    # the same numbers as prefstats on the rows read back independently
    rows = list(Annotation.objects.filter(study=pairwise_study).values_list("display_order", "response"))
    first_won = [r["choice"] == order[0] for order, r in rows]
    assert pos["overall"]["successes"] == sum(first_won)
    assert pos["overall"]["p_value"] == pytest.approx(ps.binom_test(sum(first_won), len(first_won)))

    bt = report["ranking"]["bradley_terry"]
    assert [r["system"] for r in bt["systems"]] == ["sys-a", "sys-b", "sys-c"]
    assert all(r["low"] <= r["score"] <= r["high"] for r in bt["systems"])
    assert bt["n_boot"] == 200 and bt["n_comparisons"] == 180
    wr = bt["win_rate"]
    a, c = wr["systems"].index("sys-a"), wr["systems"].index("sys-c")
    assert wr["rate"][a][c] > 0.5 and wr["n"][a][c] == 60

    # the longer answer is the better one here: length bias shows, and controlling for
    # length moves the scores towards each other
    assert report["bias"]["length"]["overall"]["rate"] > 0.6
    lc = report["bias"]["length_controlled"]
    assert lc["length_coefficient"]["estimate"] > 0
    assert report["bias"]["swapped_repeats"]["overall"]["n"] == 0  # no unit repeats a pair

    ag = report["agreement"]
    assert ag["n_judgments"] == 180 and ag["fleiss_kappa"]["raters_per_unit"] == 3 and ag["fleiss_kappa"]["n"] == 60
    assert -1 <= ag["krippendorff_alpha_nominal"]["estimate"] <= 1
    assert ag["pairwise_agreement"]["n"] == 180  # 3 pairs of annotators on each of 60 units

    judges = {j["judge"]: j for j in report["judges"]["segment"]}
    assert set(judges) == {"bleu", "rm/oracle"}
    assert judges["rm/oracle"]["acc_eq"]["estimate"] > 0.7 > judges["bleu"]["acc_eq"]["estimate"]
    assert judges["rm/oracle"]["kind"] == "reward_model" and judges["bleu"]["kind"] == "metric"
    assert judges["rm/oracle"]["kendall_tau_b"]["estimate"] > 0 > judges["bleu"]["kendall_tau_b"]["estimate"]
    assert judges["rm/oracle"]["wmt_tau_like"]["n"] == 180
    assert 0 <= judges["rm/oracle"]["calibration"]["ece"]["estimate"] <= 1
    system = {j["judge"]: j for j in report["judges"]["system"]}
    assert system["rm/oracle"]["pearson"]["estimate"] > 0.9 and system["bleu"]["pearson"]["estimate"] < -0.9
    assert system["rm/oracle"]["soft_pairwise_accuracy"]["estimate"] > 0.5
    ceiling = report["judges"]["human_ceiling"]
    assert ceiling["pairwise_agreement"]["estimate"] == pytest.approx(ag["pairwise_agreement"]["estimate"])

    quality = {r["annotator"]: r for r in report["quality"]["per_annotator"]}
    assert sum(r["judgments"] for r in quality.values()) == 180
    assert all(r["speeding"]["count"] > 0 for r in quality.values())  # every 5th answer took 0.5 s
    assert quality["fair"]["agreement_with_majority"]["n"] > 0
    drift = quality["biased-1"]["drift"]
    window = report["quality"]["drift_window"]
    assert sum(drift["first_position_rate"]["n"]) == quality["biased-1"]["judgments"]  # no ties: every judgment counts
    assert len(drift["first_position_rate"]["mean"]) == -(-quality["biased-1"]["judgments"] // window)
    assert len(drift["agreement_with_majority"]["mean"]) >= 1
    assert report["progress"]["completion"]["units_complete"] == 60
    assert report["progress"]["completion"]["percent"] == 100.0
    assert sum(report["progress"]["timeline"]["judgments"]) == 180
    (strategy,) = report["strategies"]
    assert strategy["strategy"] == "uniform" and strategy["judgments"] == 180 and strategy["units"] == 60
    assert strategy["reweighted"] is False and 0 < strategy["propensity_min"] <= strategy["propensity_mean"] <= 1
    json.dumps(report, allow_nan=False)  # strict JSON: no NaN anywhere


def test_report_is_deterministic_for_the_same_data(pairwise_study):
    first, second = study_report(pairwise_study), study_report(pairwise_study)
    first.pop("generated_at"), second.pop("generated_at")
    assert first == second


def test_excluded_annotators_and_gold_units_stay_out_of_the_statistics(pairwise_study):
    study = pairwise_study
    liar = add_annotator(study, "liar")
    # the liar answers a gold unit wrong and is excluded; their regular answers must not count
    items_import(study=study, lines=[json.dumps({"id": "gold-1", "prompt": "2+2?", "candidates": [
        {"system": "sys-a", "text": "4"}, {"system": "sys-c", "text": "5"}], "meta": {"gold": {"choice": "sys-a"}}})])
    gold = Unit.objects.get(study=study, kind="gold")
    a = Assignment.objects.create(study=study, unit=gold, annotator=liar, strategy="uniform", propensity=1.0,
                                  display_order=gold.candidate_ids, expires_at=timezone.now() + timedelta(hours=1))
    wrong = Candidate.objects.get(item=gold.item, system="sys-c").id
    annotation_submit(assignment_id=a.id, user=liar, response={"choice": wrong}, idempotency_key="gold")
    StudyMembership.objects.filter(study=study, user=liar).update(excluded=True, excluded_reason="failed gold")
    # ... and judged (against the others) some regular units: bulk, like an import
    units = list(Unit.objects.filter(study=study, kind="regular").order_by("id")[:20])
    now = timezone.now()
    for u in units:
        worst = Candidate.objects.get(id=u.candidate_ids[1]).id
        asg = Assignment.objects.create(study=study, unit=u, annotator=liar, status="submitted", strategy="uniform", propensity=1.0,
                                        display_order=u.candidate_ids, expires_at=now, submitted_at=now)
        Annotation.objects.create(study=study, unit=u, item=u.item, assignment=asg, annotator=liar, response={"choice": worst, "rationale": ""},
                                  display_order=u.candidate_ids, strategy="uniform", propensity=1.0, idempotency_key=f"l{u.id}", shown_at=now)
    report = study_report(study)
    assert report["counts"] == {**report["counts"], "regular": 200, "gold": 1, "analysed": 180, "excluded_annotators": 1}
    assert report["agreement"]["n_judgments"] == 180
    assert report["ranking"]["bradley_terry"]["n_comparisons"] == 180
    liar_row = next(r for r in report["quality"]["per_annotator"] if r["annotator"] == "liar")
    assert liar_row["excluded"] and liar_row["excluded_reason"] == "failed gold"
    assert liar_row["gold"] == {"passed": 0, "n": 1, "rate": 0.0}
    assert liar_row["checks"]["failed"] == 1 and liar_row["judgments"] == 20
    with_liar = study_report(study, include_excluded=True)
    assert with_liar["counts"]["analysed"] == 200 and with_liar["agreement"]["n_judgments"] == 200
    assert with_liar["agreement"]["pairwise_agreement"]["estimate"] != report["agreement"]["pairwise_agreement"]["estimate"]


def test_report_reads_with_a_fixed_number_of_queries(django_assert_max_num_queries, seeded):
    owner = make_user("owner", researcher=True)
    counts = []
    for slug, n_items in (("small", 2), ("bigger", 12)):
        study = study_with_items(owner, slug, n_items, redundancy=2)
        users = [add_annotator(study, f"{slug}-{k}") for k in range(3)]
        drive(study, users, pairwise_voter(np.random.default_rng(1), {u.username: 0.3 for u in users}))
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            study_report(study, n_boot=10)
        counts.append(len(ctx.captured_queries))
        with django_assert_max_num_queries(6):
            study_report(study, n_boot=10)
    assert counts[0] == counts[1]


def test_an_empty_study_gives_an_empty_but_complete_report():
    owner = make_user("owner", researcher=True)
    study = study_with_items(owner, "empty", 3)
    report = study_report(study)
    assert set(report) >= {"progress", "quality", "agreement", "ranking", "bias", "judges", "strategies"}
    assert report["counts"]["judgments"] == 0 and report["ranking"]["bradley_terry"]["systems"] == []
    json.dumps(report, allow_nan=False)


# --- score-based task types ---------------------------------------------------------------


def likert_voter(rng):
    def respond(user, shown, turn):
        return {"ratings": {str(cid): {"helpfulness": int(np.clip(round(1 + 2 * QUALITY[s] + rng.normal(0, 0.6)), 1, 5)),
                                       "verbosity": int(rng.integers(1, 4))} for cid, s in shown}}
    return respond


def mqm_voter(rng):
    def respond(user, shown, turn):
        ((_cid, system),) = shown
        if system == "sys-a" and rng.random() < 0.8:
            return {"errors": [], "no_error": True}
        severity = "major" if system == "sys-c" else "minor"
        start = int(rng.integers(0, 3))
        return {"errors": [{"start": start, "end": start + 5, "side": "target", "category": "Accuracy/Mistranslation",
                            "severity": severity, "note": ""}], "no_error": False}
    return respond


def rubric_voter(rng):
    def respond(user, shown, turn):
        ((_cid, system),) = shown
        q = QUALITY[system]
        return {"criteria": {"correct": {"value": ["no", "partial", "yes"][int(q)]},
                             "clear": {"value": int(np.clip(q * 2 + rng.integers(-1, 2), 0, 4))}}}
    return respond


SCORE_STUDIES = {
    "likert": ({"aspects": [{"name": "helpfulness", "scale": [1, 5]}, {"name": "verbosity", "scale": [1, 3]}]}, likert_voter),
    "mqm": ({}, mqm_voter),
    "rubric": ({"criteria": [{"id": "correct", "text": "Is it correct?"}, {"id": "clear", "text": "How clear?", "scale": [0, 4]}]}, rubric_voter),
}


@pytest.mark.parametrize("task_type", sorted(SCORE_STUDIES))
def test_score_based_reports_rank_the_systems_and_meta_evaluate_the_judges(task_type, seeded):
    config, voter = SCORE_STUDIES[task_type]
    owner = make_user("owner", researcher=True)
    study = study_with_items(owner, task_type, 8, task_type=task_type, task_config=config, redundancy=2)
    users = [add_annotator(study, f"ann-{k}") for k in range(3)]
    drive(study, users, voter(np.random.default_rng(2)))
    report = study_report(study)
    assert report["counts"]["regular"] == 24 * 2
    primary = {"likert": "helpfulness", "mqm": "mqm", "rubric": "rubric"}[task_type]
    assert report["ranking"]["primary_aspect"] == primary
    table = report["ranking"]["system_scores"][primary]
    assert [r["system"] for r in table] == ["sys-a", "sys-b", "sys-c"]  # best first (lowest MQM penalty)
    assert all(r["n_items"] == 8 and r["n_judgments"] == 16 for r in table)
    assert all(r["low"] <= r["mean"] <= r["high"] for r in table)
    assert [r["system"] for r in report["ranking"]["bradley_terry"]["systems"]] == ["sys-a", "sys-b", "sys-c"]
    aspects = report["agreement"]["aspects"]
    assert primary in aspects and aspects[primary]["alpha_interval"]["estimate"] > 0.5
    if task_type == "likert":
        assert set(aspects) == {"helpfulness", "verbosity"} and "alpha_ordinal" in aspects["helpfulness"]
    if task_type == "rubric":
        assert set(aspects) == {"rubric", "correct", "clear"} and "alpha_ordinal" in aspects["clear"]
    if task_type == "mqm":
        spans = report["agreement"]["spans"]
        assert spans["n_pairs"] == 24 and 0 < spans["span_f1"] <= 1 and 0 < spans["severity_weighted_f1"] <= 1
        # mean segment penalty: the same as prefstats.system_scores over the stored judgments
        assert table[-1]["mean"] > table[0]["mean"]
    judges = {j["judge"]: j for j in report["judges"]["segment"]}
    assert judges["rm/oracle"]["acc_eq"]["estimate"] > judges["bleu"]["acc_eq"]["estimate"]
    assert judges["rm/oracle"]["pearson"]["estimate"] > 0 > judges["bleu"]["pearson"]["estimate"]
    assert judges["rm/oracle"]["kendall_tau_c"]["n"] == 24
    assert not judges["rm/oracle"]["acc_eq"]["weighted"] and "acc_eq_unweighted" not in judges["rm/oracle"]  # uniform sampling
    assert report["judges"]["human_ceiling"]["leave_one_out_pairwise_accuracy"]["n"] > 0
    system = {j["judge"]: j for j in report["judges"]["system"]}
    assert system["rm/oracle"]["kendall_tau_b"]["estimate"] == pytest.approx(1.0)
    assert "position" not in report["bias"] and report["bias"]["length"]["overall"]["n"] > 0
    json.dumps(report, allow_nan=False)


def test_cross_elicitation_compares_score_implied_preferences_with_votes(seeded):
    owner = make_user("owner", researcher=True)
    pairwise = study_with_items(owner, "pw", 8, redundancy=2)
    likert = study_with_items(owner, "lk", 8, task_type="likert", task_config=SCORE_STUDIES["likert"][0], redundancy=2)
    drive(pairwise, [add_annotator(pairwise, f"p{k}") for k in range(2)], pairwise_voter(np.random.default_rng(3), {"p0": 0.0, "p1": 0.0}))
    drive(likert, [add_annotator(likert, f"l{k}") for k in range(2)], likert_voter(np.random.default_rng(4)))
    report = study_report(pairwise, compare=likert)
    ce = report["cross_elicitation"]
    assert ce["pairwise_study"] == "pw" and ce["score_study"] == "lk" and ce["score_aspect"] == "helpfulness"
    assert ce["n_votes"] == 24 * 2 and ce["n_items"] == 8
    assert ce["exact_agreement"]["estimate"] > 0.7 and ce["acc_eq"]["estimate"] >= ce["exact_agreement"]["estimate"] - 1e-9
    assert study_report(likert, compare=pairwise)["cross_elicitation"]["n_votes"] == 48  # either side may ask
    other_owner = make_user("other", researcher=True)
    foreign = study_with_items(other_owner, "foreign", 1, task_type="likert", task_config={})
    with pytest.raises(Invalid, match="same owner"):
        study_report(pairwise, compare=foreign)
    with pytest.raises(Invalid, match="one pairwise"):
        study_report(likert, compare=study_with_items(owner, "lk2", 1, task_type="likert", task_config={}))


# --- API and command ------------------------------------------------------------------------


def test_api_and_command_give_the_same_document(pairwise_study, capsys):
    client = APIClient()
    client.force_authenticate(pairwise_study.owner)
    body = client.get(f"/api/v1/studies/{pairwise_study.slug}/report/?n_boot=20").json()
    call_command("report", pairwise_study.slug, "--json", "--n-boot", "20")
    printed = json.loads(capsys.readouterr().out)
    body.pop("generated_at"), printed.pop("generated_at")
    assert body == printed
    assert body["options"]["n_boot"] == 20
    call_command("report", pairwise_study.slug, "--n-boot", "0")
    text = capsys.readouterr().out
    assert "position bias: first shown wins" in text and "sys-a" in text
    assert client.get(f"/api/v1/studies/{pairwise_study.slug}/report/?n_boot=-1").status_code == 400
    # polled: the same document while nothing changes, a new one once an annotator is excluded
    again = client.get(f"/api/v1/studies/{pairwise_study.slug}/report/?n_boot=20").json()
    assert again["generated_at"] == client.get(f"/api/v1/studies/{pairwise_study.slug}/report/?n_boot=20").json()["generated_at"]
    StudyMembership.objects.filter(study=pairwise_study, user__username="fair").update(excluded=True, excluded_reason="manual")
    fresh = client.get(f"/api/v1/studies/{pairwise_study.slug}/report/?n_boot=20").json()
    assert fresh["counts"]["excluded_annotators"] == 1 and fresh["counts"]["analysed"] < again["counts"]["analysed"]
    annotator = StudyMembership.objects.filter(study=pairwise_study, role="annotator").first().user
    client.force_authenticate(annotator)
    assert client.get(f"/api/v1/studies/{pairwise_study.slug}/report/").status_code == 404


def test_actively_sampled_judgments_are_reweighted_by_inverse_propensity():
    from tests.integration.test_report_data import annotators, bulk_judgments

    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="active", items=0, redundancy=1)
    items_import(study=study, lines=[json.dumps({"id": f"i{k}", "prompt": "p", "candidates": [
        {"system": "sys-a", "text": "a", "judges": {"rm/x": 1.0}}, {"system": "sys-b", "text": "b", "judges": {"rm/x": 0.0}}]})
        for k in range(20)])
    (user,) = annotators(study, ["ann"])
    units = list(Unit.objects.filter(study=study).select_related("item").order_by("item__external_id"))
    right, wrong = [], []
    for u in units:
        a, b = u.candidate_ids
        if int(u.item.external_id[1:]) < 10:
            right.append((u, user, {"choice": a, "rationale": ""}, [a, b]))
        else:
            wrong.append((u, user, {"choice": b, "rationale": ""}, [a, b]))
    bulk_judgments(study, right, strategy="active-bt", propensity=0.5)  # the judge agrees, weight 2
    bulk_judgments(study, wrong, strategy="active-bt", propensity=0.1)  # the judge disagrees, weight 10
    report = study_report(study, n_boot=20)
    (seg,) = report["judges"]["segment"]
    assert seg["acc_eq"]["weighted"] and seg["acc_eq"]["estimate"] == pytest.approx(10 * 2 / (10 * 2 + 10 * 10))
    assert seg["acc_eq_unweighted"]["estimate"] == pytest.approx(0.5)
    # Kendall's tau-b too: each judgment counts 1/propensity (as if repeated that often)
    from prefstats.metaeval import pair_kendall

    human, diff = np.array([1.0] * 10 + [-1.0] * 10), np.ones(20)
    assert seg["kendall_tau_b_unweighted"]["estimate"] == pytest.approx(0.0)
    repeated = pair_kendall(np.repeat(human, [2] * 10 + [10] * 10), np.repeat(diff, [2] * 10 + [10] * 10), "b")
    assert seg["kendall_tau_b"]["weighted"] and seg["kendall_tau_b"]["estimate"] == pytest.approx(repeated) and repeated < 0
    assert report["judges"]["weighted"] and any("1/propensity" in n for n in report["notes"])
    assert report["strategies"][0]["reweighted"] is True
    bt = {r["system"]: r["score"] for r in report["ranking"]["bradley_terry"]["systems"]}
    assert bt["sys-b"] > bt["sys-a"]  # 10 wins at weight 10 beat 10 wins at weight 2


def test_ranking_intervals_are_cluster_robust_by_item_and_match_prefstats(pairwise_study):
    """Four annotators are too few to cluster on: the intervals cluster by item (60 here)."""
    report = study_report(pairwise_study)
    bt = report["ranking"]["bradley_terry"]
    assert "clustered by item," in bt["interval"] and "annotator" not in bt["interval"]
    rows = list(Annotation.objects.filter(study=pairwise_study).values_list("item_id", "unit__candidate_ids", "response"))
    system = dict(Candidate.objects.filter(item__study=pairwise_study).values_list("id", "system"))
    names = sorted({system[c] for _, cands, _ in rows for c in cands})
    i = np.array([names.index(system[c[0]]) for _, c, _ in rows])
    j = np.array([names.index(system[c[1]]) for _, c, _ in rows])
    y = np.array([{"tie": 0, "both_bad": 0}.get(r["choice"], 1 if r["choice"] == c[0] else 2) for _, c, r in rows])
    items = np.array([it for it, _, _ in rows])
    fit = ps.fit_bt(i, j, y, len(names))
    se = np.sqrt(np.diag(ps.robust_covariance(fit, i, j, y, [items], jackknife=True)))
    crit = ps.robust_critical_value([items], len(rows))
    for row in bt["systems"]:
        s = names.index(row["system"])
        assert row["low"] == pytest.approx(fit.scores[s] - crit * se[s], abs=1e-6)
        assert row["high"] == pytest.approx(fit.scores[s] + crit * se[s], abs=1e-6)


@pytest.mark.django_db
def test_a_single_judgment_gives_a_ranking_without_intervals():
    owner = make_user("solo-owner", researcher=True)
    study = make_study(owner, slug="solo", items=2)
    user = add_annotator(study, "solo")
    a = assignment_next_for_annotator(study=study, user=user)
    annotation_submit(assignment_id=a.id, user=user, response={"choice": a.display_order[0]}, idempotency_key="one")
    bt = study_report(study)["ranking"]["bradley_terry"]
    assert bt["n_comparisons"] == 1 and len(bt["systems"]) == 2
    assert all(r["low"] is None and r["high"] is None for r in bt["systems"])
    assert bt["interval"] == "no interval from a single comparison"
