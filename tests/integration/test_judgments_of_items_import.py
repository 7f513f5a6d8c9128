"""Judgments made elsewhere for items already in a study: pairwise labels, the
pairwise-judgments export read back, scores-long read back. All or nothing; round trips give
the same report; PandaLM's three annotators give the published kappas."""

import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from annotation.errors import Invalid
from annotation.models import Annotation, Assignment, StudyMembership
from annotation.report import study_report
from annotation.services import annotation_submit, items_import, judgments_import
from elicitation.services import assignment_next_for_annotator
from exports.services import export_to_folder
from tests.factories import add_annotator, make_study, make_user, pairwise_items

pytestmark = pytest.mark.django_db

LIKERT = {"aspects": [{"name": "helpfulness", "scale": [1, 5]}, {"name": "correctness", "scale": [1, 3]}]}


def csv_lines(rows, header):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().splitlines(keepends=True)


def labels_study(owner, slug="lab", items=3, **config):
    return make_study(owner, slug=slug, items=items, redundancy=3, task_config={"allow_tie": True, **config})


def test_pairwise_labels_become_annotations_of_pseudonymous_raters():
    owner = make_user("owner", researcher=True)
    study = labels_study(owner)
    header = ["item_id", "system_a", "system_b", "winner", "rater"]
    rows = [{"item_id": f"it-{i}", "system_a": "sys-a", "system_b": "sys-b", "winner": w, "rater": r}
            for i in range(3) for r, w in (("r1", "a"), ("r2", "b" if i == 0 else "a"), ("r3", "tie"))]
    counts = judgments_import(study=study, lines=csv_lines(rows, header), format_name="pairwise-labels")
    assert counts == {"judgments": 9, "raters": 3}
    assert StudyMembership.objects.filter(study=study, platform="import").count() == 3
    ann = Annotation.objects.get(item__external_id="it-1", annotator__memberships__worker_id="r2")
    assert ann.response["choice"] == ann.item.candidates.get(system="sys-a").id and ann.strategy == "import"
    report = study_report(study, n_boot=0)
    assert report["counts"]["regular"] == 9
    assert {r["annotator"] for r in report["quality"]["per_annotator"]} == {"r1", "r2", "r3"}  # the file's names
    # JSONL with the winner's name works the same
    other = labels_study(owner, slug="lab2")
    lines = [json.dumps({"item_id": "it-0", "system_a": "sys-b", "system_b": "sys-a", "winner": "sys-a", "rater": "x"})]
    judgments_import(study=other, lines=lines, format_name="pairwise-labels")
    assert Annotation.objects.get(study=other).response["choice"] == other.items.get(external_id="it-0").candidates.get(system="sys-a").id


@pytest.mark.parametrize(
    ("row", "where"),
    [
        ({"item_id": "nope"}, "line 3, item_id"),
        ({"system_b": "sys-z"}, "line 3, system_a"),
        ({"winner": "left"}, "line 3, winner"),
        ({"rater": "r1"}, "line 3, rater"),  # r1 judged this pair on line 2 already
        ({"winner": "both_bad"}, "line 3, choice"),  # the study allows no "both bad"
        ({"rater": ""}, "line 3, rater"),
    ],
)
def test_a_bad_row_names_line_and_field_and_nothing_is_stored(row, where):
    owner = make_user("owner", researcher=True)
    study = labels_study(owner)
    header = ["item_id", "system_a", "system_b", "winner", "rater"]
    good = {"item_id": "it-0", "system_a": "sys-a", "system_b": "sys-b", "winner": "a", "rater": "r1"}
    with pytest.raises(Invalid) as exc:
        judgments_import(study=study, lines=csv_lines([good, {**good, "rater": "r2", **row}], header), format_name="pairwise-labels")
    assert where in exc.value.errors, exc.value.errors
    assert "nothing was imported" in exc.value.message
    assert not Annotation.objects.exists() and not Assignment.objects.exists()
    assert not StudyMembership.objects.filter(platform="import").exists()


def test_importing_the_same_file_twice_is_refused():
    owner = make_user("owner", researcher=True)
    study = labels_study(owner)
    lines = [json.dumps({"item_id": "it-0", "system_a": "sys-a", "system_b": "sys-b", "winner": "a", "rater": "r1"})]
    judgments_import(study=study, lines=lines, format_name="pairwise-labels")
    with pytest.raises(Invalid, match="imported before"):
        judgments_import(study=study, lines=lines, format_name="pairwise-labels")
    assert Annotation.objects.count() == 1


def test_the_format_must_fit_the_task_type():
    owner = make_user("owner", researcher=True)
    study = labels_study(owner)
    with pytest.raises(Invalid, match="likert and rubric"):
        judgments_import(study=study, lines=["item_id,system,annotator,aspect,score\n"], format_name="scores-long")
    with pytest.raises(Invalid, match="unknown import format"):
        items_import(study=study, lines=["item_id,system_a\n"], format_name="pairwise-labels")  # not an item format
    with pytest.raises(Invalid) as exc:
        judgments_import(study=study, lines=["x\n"], format_name="nope")
    assert "pairwise-labels" in exc.value.message and "mqm-tsv" in exc.value.message


def close(x, y) -> bool:
    """Equal, floats up to rounding (sums in another order); rows of systems compared by
    system (two systems may tie, and their order is then up to rounding)."""
    if isinstance(x, list) and x and all(isinstance(r, dict) and "system" in r for r in x):
        x, y = ({r["system"]: {k: v for k, v in r.items() if k != "rank"} for r in rows} if isinstance(rows, list) else rows for rows in (x, y))
    if isinstance(x, dict):
        return isinstance(y, dict) and x.keys() == y.keys() and all(close(x[k], y[k]) for k in x)
    if isinstance(x, list):
        return isinstance(y, list) and len(x) == len(y) and all(close(a, b) for a, b in zip(x, y, strict=True))
    if isinstance(x, float) and isinstance(y, float):
        return x == pytest.approx(y, rel=1e-9, abs=1e-12)
    return x == y


def annotate(study, users, pick):
    for user in users:
        k = 0
        while (a := assignment_next_for_annotator(study=study, user=user)) is not None:
            annotation_submit(assignment_id=a.id, user=user, response=pick(user, a), idempotency_key=f"{user.pk}-{k}", duration_ms=3000)
            k += 1


def test_pairwise_judgments_export_read_back_gives_the_same_report(tmp_path):
    owner = make_user("owner", researcher=True)
    items = pairwise_items(8, systems=("sys-a", "sys-b", "sys-c"))
    config = {"allow_tie": True, "strength_scale": [-2, 2], "aspects": ["fluency"]}
    first = make_study(owner, slug="first", items=0, redundancy=2, task_config=config)
    items_import(study=first, lines=[json.dumps(i) for i in items])
    users = [add_annotator(first, f"imported-{k}") for k in range(3)]

    def pick(user, a):
        left, right = a.display_order
        if user.username.endswith("0"):
            return {"choice": left, "strength": 2, "aspects": {"fluency": left}}  # always the left one
        if user.username.endswith("1"):
            return {"choice": "tie", "aspects": {"fluency": right}}
        return {"choice": min(left, right), "strength": 1, "aspects": {"fluency": "tie"}}

    annotate(first, users, pick)
    export_to_folder(study=first, format_name="pairwise-judgments", options={}, out_dir=tmp_path / "pj")
    second = make_study(owner, slug="second", items=0, redundancy=2, task_config=config)
    items_import(study=second, lines=[json.dumps(i) for i in items])
    with (tmp_path / "pj" / "pairwise_judgments.jsonl").open(encoding="utf-8") as fh:
        counts = judgments_import(study=second, lines=fh, format_name="pairwise-judgments")
    assert counts["judgments"] == Annotation.objects.filter(study=first).count()
    # same outcomes, strengths, aspects and display orders: the same report (annotator names
    # are the export's pseudonyms, so compare by figures)
    ra, rb = study_report(first, n_boot=0), study_report(second, n_boot=0)  # bootstrap seeds differ by study
    for path in (("agreement", "pairwise_agreement"), ("agreement", "fleiss_kappa"), ("agreement", "krippendorff_alpha_nominal"),
                 ("agreement", "aspects"), ("ranking", "bradley_terry", "systems"), ("bias", "position", "overall"),
                 ("bias", "length", "overall"), ("judges", "segment")):
        x, y = ra, rb
        for key in path:
            x, y = x[key], y[key]
        assert close(x, y), path
    def per(report):
        return sorted((r["successes"], r["n"]) for r in report["bias"]["position"]["per_annotator"])

    assert per(ra) == per(rb) and per(ra)[-1][0] == per(ra)[-1][1] > 0  # one always picked the left one


def test_scores_long_read_back_gives_the_same_report(tmp_path):
    owner = make_user("owner", researcher=True)
    items = pairwise_items(6, systems=("sys-a", "sys-b", "sys-c"))
    first = make_study(owner, slug="first", items=0, redundancy=2, task_type="likert", task_config=LIKERT)
    items_import(study=first, lines=[json.dumps(i) for i in items])
    users = [add_annotator(first, f"ann{k}") for k in range(3)]
    annotate(first, users, lambda user, a: {"ratings": {str(a.display_order[0]): {
        "helpfulness": 1 + (a.display_order[0] + user.pk) % 5, "correctness": 1 + a.display_order[0] % 3}}})
    export_to_folder(study=first, format_name="scores-long", options={}, out_dir=tmp_path / "sl")
    second = make_study(owner, slug="second", items=0, redundancy=2, task_type="likert", task_config=LIKERT)
    items_import(study=second, lines=[json.dumps(i) for i in items])
    call_command("import_items", "second", str(tmp_path / "sl" / "scores_long.csv"), "--format", "scores-long")
    assert Annotation.objects.filter(study=second).count() == Annotation.objects.filter(study=first).count() == 36
    ra, rb = study_report(first, n_boot=0), study_report(second, n_boot=0)  # bootstrap seeds differ by study
    for section in ("agreement", "ranking", "judges"):
        assert close(ra[section], rb[section]), section
    assert close(ra["bias"]["length"], rb["bias"]["length"])


def test_scores_long_for_a_rubric_and_its_errors(tmp_path):
    owner = make_user("owner", researcher=True)
    config = {"criteria": [{"id": "cites", "text": "Cites a source"}, {"id": "steps", "text": "Steps", "scale": [0, 4], "weight": 2}]}
    study = make_study(owner, slug="rub", items=2, redundancy=2, task_type="rubric", task_config=config)
    header = ["item_id", "system", "annotator", "aspect", "score"]
    rows = [
        {"item_id": "it-0", "system": "sys-a", "annotator": "r1", "aspect": "cites", "score": "0.5"},
        {"item_id": "it-0", "system": "sys-a", "annotator": "r1", "aspect": "steps", "score": "0.75"},
        {"item_id": "it-0", "system": "sys-a", "annotator": "r1", "aspect": "rubric", "score": repr((0.5 + 2 * 0.75) / 3)},
    ]
    judgments_import(study=study, lines=csv_lines(rows, header), format_name="scores-long")
    assert Annotation.objects.get().response["criteria"]["steps"]["value"] == 3
    bad = [{**rows[0], "item_id": "it-1", "score": "0.3"}]
    with pytest.raises(Invalid) as exc:
        judgments_import(study=study, lines=csv_lines(bad, header), format_name="scores-long")
    assert "line 2, score" in exc.value.errors
    split = [{**rows[0], "item_id": "it-1"}, {**rows[0], "item_id": "it-0", "annotator": "r9"}, {**rows[1], "item_id": "it-1"}]
    with pytest.raises(Invalid) as exc:
        judgments_import(study=study, lines=csv_lines(split, header), format_name="scores-long")
    assert "line 4, item_id" in exc.value.errors  # rows of one item must be adjacent
    assert Annotation.objects.count() == 1


def test_the_command_reports_the_first_bad_line(tmp_path):
    owner = make_user("owner", researcher=True)
    labels_study(owner)
    path = tmp_path / "labels.csv"
    path.write_text("item_id,system_a,system_b,winner,rater\nit-0,sys-a,sys-b,a,r1\nit-9,sys-a,sys-b,a,r1\n", encoding="utf-8")
    with pytest.raises(CommandError, match="line 3, item_id"):
        call_command("import_items", "lab", str(path), "--format", "pairwise-labels")
    assert not Annotation.objects.exists()
    out = io.StringIO()
    path.write_text("item_id,system_a,system_b,winner,rater\nit-0,sys-a,sys-b,a,r1\nit-1,sys-a,sys-b,tie,r1\n", encoding="utf-8")
    call_command("import_items", "lab", str(path), "--format", "pairwise-labels", stdout=out)
    assert "judgments: 2" in out.getvalue() and "raters: 1" in out.getvalue()


def test_pandalm_labels_imported_give_the_published_kappas(shared_data, tmp_path):
    """PandaLM testset-v1: items as JSONL, the three annotators' labels as a pairwise-labels
    CSV, both through the import command; the report's Fleiss and Cohen kappas equal the
    published values (Fleiss 0.864; Cohen 0.852, 0.879, 0.862, as tests/unit and
    test_report_data check them on the raw labels)."""
    rows = json.loads((shared_data / "pandalm" / "testset-v1.json").read_text(encoding="utf-8"))
    owner = make_user("owner", researcher=True)
    make_study(owner, slug="pandalm", items=0, redundancy=3, task_config={"allow_tie": True, "randomize_order": False})
    items, labels = tmp_path / "items.jsonl", tmp_path / "labels.csv"
    with items.open("w", encoding="utf-8") as fh:
        for r in rows:
            sys1, sys2 = r["cmp_key"].split("_")
            prompt = r["instruction"] + (f"\n\n{r['input']}" if r["input"] else "")
            fh.write(json.dumps({"id": str(r["idx"]), "prompt": prompt, "candidates": [
                {"system": sys1, "text": str(r["response1"])}, {"system": sys2, "text": str(r["response2"])}]}) + "\n")
    with labels.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["item_id", "system_a", "system_b", "winner", "rater", "first_shown"])
        for r in rows:
            sys1, sys2 = r["cmp_key"].split("_")
            for k in (1, 2, 3):
                writer.writerow([r["idx"], sys1, sys2, {1: "a", 2: "b", 0: "tie"}[r[f"annotator{k}"]], f"annotator{k}", sys1])
    call_command("import_items", "pandalm", str(items))
    out = io.StringIO()
    call_command("import_items", "pandalm", str(labels), "--format", "pairwise-labels", stdout=out)
    assert "judgments: 2997" in out.getvalue()
    report = json.loads(_report_json("pandalm"))
    ag = report["agreement"]
    assert ag["fleiss_kappa"]["n"] == 999 and ag["fleiss_kappa"]["estimate"] == pytest.approx(0.864, abs=5e-4)
    kappas = {(k["a"], k["b"]): k["kappa"] for k in ag["cohen_kappa"]["pairs"]}
    assert kappas == pytest.approx({("annotator1", "annotator2"): 0.852, ("annotator1", "annotator3"): 0.879,
                                    ("annotator2", "annotator3"): 0.862}, abs=5e-4)
    # response1 was shown first: the position bias is response1's share of decisive votes
    decisive = [r[f"annotator{k}"] for r in rows for k in (1, 2, 3) if r[f"annotator{k}"]]
    assert report["bias"]["position"]["overall"]["successes"] == decisive.count(1)


def _report_json(slug):
    out = io.StringIO()
    call_command("report", slug, "--json", stdout=out)
    return out.getvalue()


def test_the_api_imports_judgments_all_or_nothing():
    from django.core.files.uploadedfile import SimpleUploadedFile
    from rest_framework.test import APIClient

    owner = make_user("owner", researcher=True)
    labels_study(owner)
    client = APIClient()
    client.force_authenticate(owner)
    url = reverse("api-study-judgments", args=["lab"])
    good = b"item_id,system_a,system_b,winner,rater\nit-0,sys-a,sys-b,a,r1\nit-1,sys-a,sys-b,tie,r1\n"
    response = client.post(url, {"file": SimpleUploadedFile("l.csv", good), "format": "pairwise-labels"}, format="multipart")
    assert response.status_code == 201 and response.json() == {"judgments": 2, "raters": 1}
    bad = b"item_id,system_a,system_b,winner,rater\nit-2,sys-a,sys-b,a,r1\nit-2,sys-a,sys-b,b,r1\n"
    response = client.post(url, {"file": SimpleUploadedFile("l.csv", bad), "format": "pairwise-labels"}, format="multipart")
    assert response.status_code == 400 and "line 3, rater" in response.json()["errors"]
    response = client.post(url, {"file": SimpleUploadedFile("l.csv", good), "format": "pairwise-labels", "options": "[1]"}, format="multipart")
    assert response.status_code == 400 and "options" in response.json()["errors"]
    assert Annotation.objects.count() == 2
