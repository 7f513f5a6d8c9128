"""The report on real data, and at size.

- PandaLM testset-v1 (999 pairs, three annotators each, 1 = response1 better, 2 = response2,
  0 = tie), stored as a pairwise study: the report's Fleiss' kappa, Cohen's kappas, alpha,
  agreement, ranking and position bias equal prefstats on the labels read straight from the
  file (Fleiss 0.864; Cohen 0.852, 0.879, 0.862).
- WMT20 newstest2020 en-de system level: human DA z-scores from the segment file through the
  report's cluster-bootstrap means equal the published HUMAN column, and the report's
  system-level Pearson and Kendall of every metric equal independent numpy computations.
- About 10,000 pairwise judgments: the report runs within a time budget.
"""

import json
import time

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.db.models import F
from django.utils import timezone

import prefstats as ps
from annotation.models import Annotation, Assignment, Candidate, StudyMembership, Unit
from annotation.report import study_report, system_level
from annotation.services import items_import
from prefstats.metaeval import cluster_bootstrap_means
from tests.factories import make_study, make_user

pytestmark = pytest.mark.django_db


def bulk_judgments(study, judgments, strategy="import", propensity=1.0):
    """Store judgments as the import service does (bulk Assignment + Annotation, unit counters
    bumped). `judgments`: (unit, user, response, display_order) tuples."""
    now = timezone.now()
    assignments = Assignment.objects.bulk_create(
        (Assignment(study=study, unit=u, annotator=user, status=Assignment.Status.SUBMITTED, strategy=strategy,
                    propensity=propensity, display_order=order, expires_at=now, submitted_at=now)
         for u, user, _, order in judgments),
        batch_size=2000,
    )
    Annotation.objects.bulk_create(
        (Annotation(study=study, unit=u, item_id=u.item_id, assignment=a, annotator=user, response=response,
                    display_order=order, strategy=strategy, propensity=propensity, idempotency_key=f"b-{a.pk}",
                    shown_at=now, duration_ms=5000)
         for (u, user, response, order), a in zip(judgments, assignments, strict=True)),
        batch_size=2000,
    )
    per_unit = {}
    for u, *_ in judgments:
        per_unit[u.pk] = per_unit.get(u.pk, 0) + 1
    for n in set(per_unit.values()):
        Unit.objects.filter(pk__in=[pk for pk, k in per_unit.items() if k == n]).update(n_done=F("n_done") + n, n_taken=F("n_taken") + n)


def annotators(study, names):
    users = get_user_model().objects.bulk_create(get_user_model()(username=n) for n in names)
    StudyMembership.objects.bulk_create(StudyMembership(study=study, user=u, role="annotator") for u in users)
    return users


# --- PandaLM ------------------------------------------------------------------------------


@pytest.fixture
def pandalm(shared_data):
    rows = json.loads((shared_data / "pandalm" / "testset-v1.json").read_text(encoding="utf-8"))
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="pandalm", items=0, redundancy=3, task_config={"allow_tie": True, "randomize_order": False})
    lines = []
    for r in rows:
        sys1, sys2 = r["cmp_key"].split("_")
        # six responses are the JSON boolean true (the answer "True" to a true/false question)
        prompt = r["instruction"] + (f"\n\n{r['input']}" if r["input"] else "")
        lines.append(json.dumps({"id": str(r["idx"]), "prompt": prompt,
                                 "candidates": [{"system": sys1, "text": str(r["response1"])}, {"system": sys2, "text": str(r["response2"])}]}))
    items_import(study=study, lines=lines)
    users = annotators(study, ["annotator1", "annotator2", "annotator3"])
    units = {u.item.external_id: u for u in Unit.objects.filter(study=study).select_related("item")}
    cands = {}
    for item_ext, cid, pos in Candidate.objects.filter(item__study=study).values_list("item__external_id", "id", "position"):
        cands[(item_ext, pos)] = cid
    judgments = []
    for r in rows:
        ext = str(r["idx"])
        first, second = cands[(ext, 0)], cands[(ext, 1)]
        assert units[ext].candidate_ids == [first, second] and first < second
        for k, user in enumerate(users):
            label = r[f"annotator{k + 1}"]
            choice = {1: first, 2: second, 0: "tie"}[label]
            judgments.append((units[ext], user, {"choice": choice, "rationale": ""}, [first, second]))
    bulk_judgments(study, judgments)
    labels = np.array([[r["annotator1"], r["annotator2"], r["annotator3"]] for r in rows])
    return study, rows, labels


def test_pandalm_agreement_equals_prefstats_on_the_file_labels(pandalm):
    study, rows, labels = pandalm
    report = study_report(study)
    ag = report["agreement"]
    assert report["counts"]["analysed"] == 2997 and ag["n_judgments"] == 2997

    fleiss = ag["fleiss_kappa"]
    assert fleiss["raters_per_unit"] == 3 and fleiss["n"] == 999 and fleiss["units_left_out"] == 0
    assert fleiss["estimate"] == pytest.approx(ps.fleiss_kappa_from_labels(labels), abs=1e-12)
    assert fleiss["estimate"] == pytest.approx(0.864, abs=5e-4)

    kappas = {(k["a"], k["b"]): k for k in ag["cohen_kappa"]["pairs"]}
    assert set(kappas) == {("annotator1", "annotator2"), ("annotator1", "annotator3"), ("annotator2", "annotator3")}
    for (a, b), published in zip(sorted(kappas), (0.852, 0.879, 0.862), strict=True):
        ia, ib = int(a[-1]) - 1, int(b[-1]) - 1
        assert kappas[(a, b)]["n"] == 999
        assert kappas[(a, b)]["kappa"] == pytest.approx(ps.cohen_kappa(labels[:, ia], labels[:, ib]), abs=1e-12)
        assert kappas[(a, b)]["kappa"] == pytest.approx(published, abs=5e-4)

    # alpha (nominal over first / second / tie) and tie-aware agreement, from the labels
    assert ag["krippendorff_alpha_nominal"]["estimate"] == pytest.approx(ps.krippendorff_alpha(labels.T.astype(float), "nominal"), abs=1e-12)
    unit = np.repeat(np.arange(999), 3)
    assert ag["pairwise_agreement"]["estimate"] == pytest.approx(ps.pairwise_agreement(unit, labels.ravel()), abs=1e-12)
    assert ag["pairwise_agreement"]["low"] < ag["pairwise_agreement"]["estimate"] < ag["pairwise_agreement"]["high"]

    # response1 was always shown first: position bias = response1's share of decisive votes
    decisive = labels[labels != 0]
    pos = report["bias"]["position"]["overall"]
    assert pos["n"] == decisive.size and pos["successes"] == int((decisive == 1).sum())
    assert pos["p_value"] == pytest.approx(ps.binom_test(int((decisive == 1).sum()), decisive.size))

    # Bradley–Terry over the five models equals fit_bt on the file's (model, model, label) rows
    systems = sorted({s for r in rows for s in r["cmp_key"].split("_")})
    code = {s: k for k, s in enumerate(systems)}
    i, j, y = [], [], []
    for r in rows:
        s1, s2 = r["cmp_key"].split("_")
        for k in (1, 2, 3):
            i.append(code[s1])
            j.append(code[s2])
            y.append(r[f"annotator{k}"])
    fit = ps.fit_bt(np.array(i), np.array(j), np.array(y), len(systems))
    got = {row["system"]: row["score"] for row in report["ranking"]["bradley_terry"]["systems"]}
    assert got == pytest.approx({s: float(fit.scores[code[s]]) for s in systems}, abs=1e-9)
    assert report["ranking"]["bradley_terry"]["tie_parameter"] == pytest.approx(fit.nu)


# --- WMT20 ---------------------------------------------------------------------------------


def read_space_separated(path, trailing_space=False):
    """Space-separated, empty cells kept (consecutive spaces); `trailing_space`: every line
    ends with one separator too much (the segment file)."""

    def split(line):
        return (line[:-1] if trailing_space and line.endswith(" ") else line).split(" ")

    lines = path.read_text(encoding="utf-8").splitlines()
    return split(lines[0]), [split(line) for line in lines[1:]]


def brute_tau_b(x, y):
    x, y = np.asarray(x, float), np.asarray(y, float)
    a, b = np.triu_indices(x.size, k=1)
    sx, sy = np.sign(x[a] - x[b]), np.sign(y[a] - y[b])
    n0 = a.size
    n1, n2 = (sx == 0).sum(), (sy == 0).sum()
    return float((sx * sy).sum() / np.sqrt((n0 - n1) * (n0 - n2)))


def test_wmt20_system_level_correlations_equal_independent_numpy(shared_data):
    root = shared_data / "wmt20-metrics"
    header, rows = read_space_separated(root / "DA-newstest2020-ende-sys-scores.csv")
    assert all(len(r) == len(header) == 32 for r in rows)
    mt = [r for r in rows if not r[1].startswith("Human-")]  # WMT20: MT systems only
    systems = [r[1] for r in mt]
    human = np.array([float(r[header.index("HUMAN")]) for r in mt])

    # the human system scores as the report computes them for score-based studies: mean of
    # segment scores per system, with a bootstrap over segments
    seg_header, seg = read_space_separated(root / "ad-seg-scores-en-de.csv", trailing_space=True)
    assert seg_header == ["SYS", "SID", "RAW.SCR", "Z.SCR", "N"]
    seg = [r for r in seg if r[0] in systems]
    code = {s: k for k, s in enumerate(systems)}
    means = cluster_bootstrap_means([np.array([float(r[3]) for r in seg])], np.array([code[r[0]] for r in seg]), len(systems),
                                    np.array([r[1] for r in seg]), np.random.default_rng(0), n_boot=100)
    assert means.estimate[0] == pytest.approx(human, abs=1e-12)

    checked = 0
    for col, name in enumerate(header):
        if col < 4 or any(r[col] == "" for r in mt):
            continue
        metric = np.array([float(r[col]) for r in mt])
        res = system_level(human, metric)
        assert res["n_systems"] == len(systems) == 14
        assert res["pearson"]["estimate"] == pytest.approx(float(np.corrcoef(human, metric)[0, 1]), abs=1e-12), name
        assert res["kendall_tau_b"]["estimate"] == pytest.approx(brute_tau_b(human, metric), abs=1e-12), name
        # with human bootstrap replicates (the metric is a fixed corpus score) intervals appear
        boot = system_level(human, metric, means.samples[:, 0, :], np.tile(metric, (100, 1)))
        assert boot["pearson"]["low"] <= boot["pearson"]["estimate"] <= boot["pearson"]["high"], name
        assert 0 <= boot["soft_pairwise_accuracy"]["estimate"] <= 1
        checked += 1
    assert checked == 28  # every metric column has all MT systems (only Human-A.0 has gaps)


# --- size ----------------------------------------------------------------------------------


def build_large_pairwise_study(n_items=600, n_systems=10, per_item=4, raters=3, n_annotators=30, seed=0):
    """n_items x C(per_item, 2) pair units x `raters` judgments (600 items: 10,800)."""
    rng = np.random.default_rng(seed)
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="large", items=0, redundancy=raters)
    skill = np.linspace(1.5, -1.5, n_systems)
    lines = []
    for i in range(n_items):
        chosen = rng.choice(n_systems, per_item, replace=False)
        lines.append(json.dumps({"id": f"x{i}", "prompt": f"p{i}", "candidates": [
            {"system": f"s{k:02d}", "text": "w " * int(rng.integers(5, 60)),
             "judges": {"rm/a": float(skill[k] + rng.normal(0, 1)), "comet": float(skill[k] * 0.1 + rng.normal(0, 0.2)), "bleu": float(rng.normal(30, 5))}}
            for k in chosen]}))
    items_import(study=study, lines=lines)
    users = annotators(study, [f"a{k:02d}" for k in range(n_annotators)])
    system_of = dict(Candidate.objects.filter(item__study=study).values_list("id", "system"))
    judgments = []
    for unit in Unit.objects.filter(study=study):
        a, b = unit.candidate_ids
        d = skill[int(system_of[a][1:])] - skill[int(system_of[b][1:])]
        for k in rng.choice(n_annotators, raters, replace=False):
            order = [a, b] if rng.random() < 0.5 else [b, a]
            u = rng.random()
            p_tie = 0.15
            if u < p_tie:
                choice = "tie"
            elif rng.random() < 0.1:
                choice = order[0]  # position bias
            else:
                choice = a if rng.random() < 1 / (1 + np.exp(-d)) else b
            judgments.append((unit, users[k], {"choice": choice, "rationale": ""}, order))
    bulk_judgments(study, judgments, strategy="uniform", propensity=1 / 200)
    return study


def test_report_on_ten_thousand_judgments_is_fast():
    study = build_large_pairwise_study()
    start, cpu = time.perf_counter(), time.process_time()
    report = study_report(study)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"\nreport on {report['counts']['analysed']} judgments: {seconds:.2f} s wall, {cpu:.2f} s CPU (n_boot {report['options']['n_boot']})")
    assert report["options"]["n_boot"] < 200 and "bootstrap intervals use" in report["notes"][0]
    assert report["counts"]["analysed"] == 10_800
    assert [r["system"] for r in report["ranking"]["bradley_terry"]["systems"]][:3] == ["s00", "s01", "s02"]
    assert seconds < 60
