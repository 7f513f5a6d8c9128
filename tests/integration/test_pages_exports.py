"""The study page's exports and imports without a browser: retrying a failed export, uploads
that run in the background (asked for, too large or gzipped) with their result on the page,
judge scores uploaded from the page, and who may do what."""

from __future__ import annotations

import gzip
import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from annotation.models import Candidate, Item
from exports.models import ExportJob, ImportJob
from tests.factories import make_study, make_user, pairwise_items

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return make_user("owner", researcher=True)


@pytest.fixture
def eager_tasks():
    """Run Celery tasks in-process, as on a laptop (no worker uses the test database)."""
    from config.celery import app

    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = old


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EXPORT_ROOT = settings.MEDIA_ROOT / "exports"
    return settings.MEDIA_ROOT


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def jsonl(items) -> bytes:
    return ("\n".join(json.dumps(i) for i in items) + "\n").encode()


def upload(client, slug, content: bytes, name="items.jsonl", **fields):
    return client.post(reverse("study_upload", args=[slug]), {"file": SimpleUploadedFile(name, content), "format": "jsonl", **fields})


def import_row(html: str, job: ImportJob) -> str:
    match = re.search(rf'<tr data-import="{job.pk}" data-status="(\w+)">(.*?)</tr>', html, re.DOTALL)
    assert match, f"import #{job.pk} is not on the page"
    return match.group(1) + " " + re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(2)))


def test_a_failed_export_is_retried_from_the_page(owner, media, eager_tasks, django_capture_on_commit_callbacks):
    study = make_study(owner, slug="s1", items=2, redundancy=1)
    job = ExportJob.objects.create(study=study, format="raw", created_by=owner, status="failed", error="OSError: No space left on device")
    client = client_for(owner)
    page = client.get(reverse("study_detail", args=["s1"])).content.decode()
    retry_url = reverse("study_export_retry", args=["s1", job.pk])
    assert "No space left on device" in page and f'action="{retry_url}"' in page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(retry_url)
    assert response.status_code == 302 and response["Location"].endswith("#exports")
    job.refresh_from_db()
    assert (job.status, job.error) == ("done", "")
    page = client.get(reverse("study_detail", args=["s1"])).content.decode()
    assert reverse("api-export-download", args=[job.pk]) in page and f'action="{retry_url}"' not in page

    again = client.post(retry_url, follow=True)  # a finished export is not run again
    assert "only a failed export" in again.content.decode()
    assert ExportJob.objects.get(pk=job.pk).attempts == 1


def test_only_the_studys_managers_may_retry_its_exports(owner):
    study = make_study(owner, slug="s1", items=1)
    job = ExportJob.objects.create(study=study, format="raw", created_by=owner, status="failed", error="boom")
    stranger = make_user("stranger", researcher=True)
    assert client_for(stranger).post(reverse("study_export_retry", args=["s1", job.pk])).status_code == 404
    other = make_study(stranger, slug="theirs", items=1)
    # a job id of another study under a slug one manages is no way in either
    assert client_for(stranger).post(reverse("study_export_retry", args=[other.slug, job.pk])).status_code == 404
    assert Client().post(reverse("study_export_retry", args=["s1", job.pk])).status_code == 302  # to sign in
    assert ExportJob.objects.get(pk=job.pk).status == "failed"


def test_an_upload_asked_to_run_in_the_background_reports_on_the_page(owner, media, eager_tasks, django_capture_on_commit_callbacks):
    study = make_study(owner, slug="empty", items=0)
    client = client_for(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, "empty", jsonl(pairwise_items(4)), background="on")
    assert response.status_code == 302 and response["Location"].endswith("#imports")
    job = ImportJob.objects.get()
    assert (job.status, job.rows_done, job.filename) == ("done", 4, "items.jsonl")
    assert Item.objects.filter(study=study).count() == 4
    page = client.get(reverse("study_detail", args=["empty"])).content.decode()
    assert "runs in the background" in page
    row = import_row(page, job)
    assert row.startswith("done") and "4 rows taken" in row and "items: 4 · units_in_study: 4" in row


def test_a_large_upload_goes_to_the_background_and_a_bad_line_is_named(owner, media, settings, eager_tasks,
                                                                         django_capture_on_commit_callbacks):
    settings.BACKGROUND_IMPORT_BYTES = 100
    study = make_study(owner, slug="empty", items=0)
    items = pairwise_items(30)
    items[25]["candidates"] = "nope"
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client_for(owner), "empty", jsonl(items))
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert job.status == "failed" and "line 26, candidates" in job.error
    assert not Item.objects.filter(study=study).exists()  # all or nothing
    row = import_row(client_for(owner).get(reverse("study_detail", args=["empty"])).content.decode(), job)
    assert row.startswith("failed") and "line 26, candidates" in row and "nothing was imported" in row


def test_a_gzipped_upload_is_imported_in_the_background(owner, media, eager_tasks, django_capture_on_commit_callbacks):
    study = make_study(owner, slug="empty", items=0)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client_for(owner), "empty", gzip.compress(jsonl(pairwise_items(3))), name="items.jsonl.gz")
    assert response.status_code == 302
    assert ImportJob.objects.get().status == "done" and Item.objects.filter(study=study).count() == 3


def test_judge_scores_uploaded_from_the_page(owner):
    study = make_study(owner, slug="s1", items=2)
    item = Item.objects.filter(study=study).order_by("id").first()
    system = Candidate.objects.filter(item=item).order_by("id").first().system
    client = client_for(owner)
    good = f"item_id,system,judge,score\n{item.external_id},{system},comet,0.75\n".encode()
    response = upload(client, "s1", good, name="scores.csv", kind="scores", format="csv")
    assert response.status_code == 302
    assert "Imported 1 judge score (comet)" in client.get(response["Location"]).content.decode()
    assert Candidate.objects.get(item=item, system=system).judges["comet"] == 0.75

    bad = f"item_id,system,judge,score\n{item.external_id},{system},bleu,0.5\n{item.external_id},nobody,bleu,0.1\n".encode()
    response = upload(client, "s1", bad, name="scores.csv", kind="scores", format="csv")
    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was imported" in html and "line 3, system" in html
    assert "bleu" not in Candidate.objects.get(item=item, system=system).judges  # the good first row was not kept


def test_a_background_import_with_an_unknown_format_is_refused_on_the_page(owner, media):
    make_study(owner, slug="empty", items=0)
    response = upload(client_for(owner), "empty", b"x", kind="scores", format="mqm-tsv", background="on")
    assert response.status_code == 400 and "judge scores come as csv or jsonl" in response.content.decode()
    assert not ImportJob.objects.exists()


@pytest.mark.django_db(transaction=True)  # on_commit runs as in production: when the request's write commits
def test_an_export_that_cannot_reach_the_task_queue_says_so_on_the_page_and_its_retry_too(media, monkeypatch):
    from exports.tasks import run_export
    from tests.integration.test_exports_jobs import unreachable_broker

    owner = make_user("owner", researcher=True)
    make_study(owner, slug="s1", items=2, redundancy=1)
    monkeypatch.setattr(run_export, "delay", unreachable_broker)
    client = client_for(owner)
    response = client.post(reverse("study_export_create", args=["s1"]), {"format": "raw", "options": "{}"}, follow=True)
    html = response.content.decode()
    job = ExportJob.objects.get()
    assert job.status == "failed" and f"Export #{job.pk} (raw) failed" in html and "task queue (broker) is unreachable" in html
    assert "started." not in html
    again = client.post(reverse("study_export_retry", args=["s1", job.pk]), follow=True).content.decode()
    assert "failed again" in again and ExportJob.objects.get().status == "failed"


def test_judgments_made_elsewhere_uploaded_from_the_page(owner):
    from annotation.models import Annotation

    study = make_study(owner, slug="s1", items=2, task_config={"allow_tie": True})
    client = client_for(owner)
    labels = b"item_id,system_a,system_b,winner,rater\nit-0,sys-a,sys-b,a,r1\nit-1,sys-a,sys-b,tie,r1\n"
    response = upload(client, "s1", labels, name="labels.csv", kind="judgments", format="pairwise-labels")
    assert response.status_code == 302
    assert "Imported 2 judgments from labels.csv." in client.get(response["Location"]).content.decode()
    assert Annotation.objects.filter(study=study).count() == 2
    bad = b"item_id,system_a,system_b,winner,rater\nit-0,sys-a,sys-b,a,r2\nit-1,sys-a,sys-b,left,r2\n"
    response = upload(client, "s1", bad, name="labels.csv", kind="judgments", format="pairwise-labels")
    assert response.status_code == 400 and "line 3, winner" in response.content.decode()
    assert Annotation.objects.filter(study=study).count() == 2
