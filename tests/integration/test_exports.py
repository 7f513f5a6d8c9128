"""Exports end to end: judgments -> folder with data + dataset card -> datasets.load_dataset."""

import json
import zipfile

import pytest
from django.core.management import call_command

from annotation.models import Annotation
from annotation.services import annotation_submit
from elicitation.services import assignment_next_for_annotator
from exports.models import ExportJob
from exports.services import export_create, export_file
from tests.factories import add_annotator, make_study, make_user

pytestmark = pytest.mark.django_db


def annotate(study, users, pick):
    """Each user judges until nothing is left; pick(assignment) -> choice."""
    for user in users:
        while (a := assignment_next_for_annotator(study=study, user=user)) is not None:
            annotation_submit(assignment_id=a.id, user=user, response={"choice": pick(a)}, idempotency_key=f"{user.pk}-{a.pk}")


def test_trl_preference_follows_choices_whatever_the_display_order(tmp_path):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=6, redundancy=3, task_config={"allow_tie": True})
    users = [add_annotator(study, f"ann{i}") for i in range(3)]
    # everyone prefers the candidate shown on the left: chosen must be exactly that candidate
    annotate(study, users[:2], lambda a: a.display_order[0])
    annotate(study, users[2:], lambda a: "tie")
    out = tmp_path / "trl"
    call_command("export", study.slug, "--format", "trl-preference", "--output", str(out))
    rows = [json.loads(line) for line in (out / "trl_preference.jsonl").read_text().splitlines()]
    assert len(rows) == 12  # 6 units x 2 decisive judgments; the 6 ties are counted, not paired
    for ann in Annotation.objects.exclude(response__choice="tie").select_related("item"):
        left = ann.display_order[0]
        texts = dict(ann.item.candidates.values_list("id", "text"))
        right = next(c for c in ann.display_order if c != left)
        assert {"chosen": texts[left], "rejected": texts[right]} in [{"chosen": r["chosen"], "rejected": r["rejected"]} for r in rows if r["prompt_id"] == ann.item.external_id]
    assert all(r["votes_tie"] == 1 and r["agreement"] is not None for r in rows)
    card = (out / "README.md").read_text()
    assert "ties: 6" in card and "pairs written: 12" in card and "pairwise" in card

    datasets = pytest.importorskip("datasets")
    ds = datasets.load_dataset(str(out), split="train")
    assert ds.num_rows == 12
    assert {"prompt", "chosen", "rejected", "chosen_system", "propensity", "display_order"} <= set(ds.column_names)


def test_majority_and_conversational(tmp_path):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=0, redundancy=3)
    from annotation.services import items_import

    items_import(study=study, lines=[json.dumps({"id": "chat-1", "prompt": [{"role": "user", "content": "Hi"}], "candidates": [{"system": "x", "text": "Hello!"}, {"system": "y", "text": "Go away."}]})])
    users = [add_annotator(study, f"ann{i}") for i in range(3)]
    texts = {}
    annotate(study, users[:2], lambda a: texts.setdefault("x", a.unit.item.candidates.get(system="x").id))
    annotate(study, users[2:], lambda a: a.unit.item.candidates.get(system="y").id)
    out = tmp_path / "maj"
    call_command("export", study.slug, "--format", "trl-preference", "--output", str(out), "--options", '{"aggregate": "majority"}')
    (row,) = [json.loads(line) for line in (out / "trl_preference.jsonl").read_text().splitlines()]
    assert row["prompt"] == [{"role": "user", "content": "Hi"}]
    assert row["chosen"] == [{"role": "assistant", "content": "Hello!"}]
    assert row["votes_chosen"] == 2 and row["votes_rejected"] == 1 and row["margin"] == 1
    assert row["agreement"] == pytest.approx(2 / 3)


def test_export_job_runs_in_background_and_offers_a_complete_zip(django_capture_on_commit_callbacks):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=3, redundancy=1)
    annotate(study, [add_annotator(study, "ann")], lambda a: a.display_order[1])
    with django_capture_on_commit_callbacks(execute=True):
        job = export_create(study=study, user=owner, format_name="raw")
    job.refresh_from_db()
    assert job.status == ExportJob.Status.DONE, job.error
    path = export_file(job)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        raw = [json.loads(x) for x in zf.read(next(n for n in names if n.endswith("raw.jsonl"))).decode().splitlines()]
    assert any(n.endswith("README.md") for n in names)
    assert len(raw) == 3 and all(r["response"]["choice"] == r["display_order"][1] for r in raw)
    assert not list(path.parent.glob("*.part"))


def test_unknown_format_or_option_is_refused():
    from annotation.errors import Invalid

    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=1)
    with pytest.raises(Invalid, match="unknown export format"):
        export_create(study=study, user=owner, format_name="nope")
    with pytest.raises(Invalid, match="options.aggregate"):
        export_create(study=study, user=owner, format_name="trl-preference", options={"aggregate": "mean"})
    assert ExportJob.objects.count() == 0


def test_export_through_the_real_broker_and_worker(celery_worker_live, django_capture_on_commit_callbacks):
    import time

    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=2, redundancy=1)
    annotate(study, [add_annotator(study, "ann")], lambda a: a.display_order[0])
    with django_capture_on_commit_callbacks(execute=True):
        job = export_create(study=study, user=owner, format_name="trl-preference")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status in (ExportJob.Status.DONE, ExportJob.Status.FAILED):
            break
        time.sleep(0.2)
    assert job.status == ExportJob.Status.DONE, (job.status, job.error)
    assert export_file(job) is not None
