"""Export and import jobs: progress while running, a failure mid-write that leaves nothing to
download and says why, a job left running by a dead worker (stale, requeued, retried, given up
after too many deaths), a worker really killed mid-export on PostgreSQL, and large imports run
in the background, all-or-nothing, reporting what they took. A job whose message cannot reach
the broker fails at once, saying why, rather than waiting "pending" forever."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from annotation.errors import Conflict
from annotation.models import Candidate, Item
from exports.models import ExportJob, ImportJob
from exports.services import (
    MAX_ATTEMPTS,
    export_create,
    export_file,
    export_retry,
    exports_requeue_stale,
    import_create,
)
from exports.tasks import run_export
from tests.factories import add_annotator, make_study, make_user
from tests.integration.test_exports_formats import bulk_annotate

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def study():
    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=6, redundancy=2, slug="jobs")
    bulk_annotate(study, [add_annotator(study, "ann0"), add_annotator(study, "ann1")], lambda unit, k: unit.candidate_ids[k % 2])
    return study


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def leftovers() -> list[Path]:
    root = Path(settings.EXPORT_ROOT)
    return sorted(root.iterdir()) if root.exists() else []


def test_progress_is_written_while_the_export_runs(study, monkeypatch, django_capture_on_commit_callbacks):
    from exports import services

    seen = []
    original = services.annotation_rows

    def watched(s, **kw):
        for n, row in enumerate(original(s, **kw), start=1):
            if n == 9:
                seen.append(ExportJob.objects.values_list("status", "rows_done", "rows_total").get())
            yield row

    monkeypatch.setattr(services, "PROGRESS_EVERY", 4)
    monkeypatch.setattr(services, "annotation_rows", watched)
    with django_capture_on_commit_callbacks(execute=True):
        job = export_create(study=study, user=study.owner, format_name="trl-preference")
    job.refresh_from_db()
    assert seen == [("running", 8, 12)]
    assert (job.status, job.rows_done, job.progress, job.attempts) == ("done", 12, 1.0, 1)
    data = client_for(study.owner).get(f"/api/v1/exports/{job.pk}/").json()
    assert data["status"] == "done" and data["progress"] == 1.0 and data["download_url"] and data["retry_url"] is None


def test_the_heap_is_left_out_of_garbage_collection_while_an_export_runs_and_only_then(study, monkeypatch, tmp_path):
    import gc

    from exports import services

    frozen_during, fail = [], []
    original = services.annotation_rows

    def watched(s, **kw):
        for row in original(s, **kw):
            frozen_during.append(gc.get_freeze_count())
            if fail:
                raise OSError(28, "No space left on device")
            yield row

    monkeypatch.setattr(services, "annotation_rows", watched)
    services.export_to_folder(study=study, format_name="raw", options={}, out_dir=tmp_path / "ok")
    assert frozen_during and min(frozen_during) > 1000 and gc.get_freeze_count() == 0
    fail.append(True)
    with pytest.raises(OSError):  # an export that fails midway thaws the heap too
        services.export_to_folder(study=study, format_name="raw", options={}, out_dir=tmp_path / "bad")
    assert gc.get_freeze_count() == 0


def test_a_failure_mid_write_leaves_nothing_to_download_and_says_why(study, monkeypatch, django_capture_on_commit_callbacks):
    from exports.formats.raw import Raw

    original = Raw.write

    def fails_midway(self, rows, out_dir, ctx):
        def some(rows):
            for n, row in enumerate(rows):
                if n == 5:
                    raise OSError(28, "No space left on device")
                yield row

        return original(self, some(rows), out_dir, ctx)

    monkeypatch.setattr(Raw, "write", fails_midway)
    with django_capture_on_commit_callbacks(execute=True):
        job = export_create(study=study, user=study.owner, format_name="raw")
    job.refresh_from_db()
    assert job.status == "failed" and "No space left on device" in job.error and job.path == ""
    assert export_file(job) is None
    assert leftovers() == []  # no zip, no .part, no temporary folder
    client = client_for(study.owner)
    download = client.get(f"/api/v1/exports/{job.pk}/download/")
    assert download.status_code == 409 and "failed" in download.json()["detail"]
    shown = client.get(f"/api/v1/exports/{job.pk}/").json()
    assert shown["error"] == job.error and shown["retry_url"] == f"/api/v1/exports/{job.pk}/retry/"

    monkeypatch.setattr(Raw, "write", original)  # the disk has room again: retry
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/exports/{job.pk}/retry/")
    assert response.status_code == 202
    job.refresh_from_db()
    assert (job.status, job.error) == ("done", "")
    with zipfile.ZipFile(export_file(job)) as zf:
        raw = next(n for n in zf.namelist() if n.endswith("raw.jsonl"))
        assert len(zf.read(raw).decode().splitlines()) == 12
    assert client.get(f"/api/v1/exports/{job.pk}/download/").status_code == 200


def unreachable_broker(*args, **kwargs):
    """What Celery's delay() raises when its broker cannot be reached: a real connection
    attempt to a port nobody listens on."""
    import kombu

    with kombu.Connection("redis://127.0.0.1:1/0", connect_timeout=1) as conn:
        conn.ensure_connection(max_retries=1)


def test_an_export_that_cannot_be_queued_fails_saying_why_and_can_be_retried(study, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(run_export, "delay", unreachable_broker)
    client = client_for(study.owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/studies/{study.slug}/exports/", {"format": "raw"}, format="json")
    assert response.status_code == 202
    shown = client.get(f"/api/v1/exports/{response.json()['id']}/").json()
    assert shown["status"] == "failed" and "task queue (broker) is unreachable" in shown["error"], shown
    assert "retry it" in shown["error"] and shown["retry_url"]
    with django_capture_on_commit_callbacks(execute=True):  # still down: the retry fails the same way
        assert client.post(shown["retry_url"]).status_code == 202
    assert client.get(f"/api/v1/exports/{shown['id']}/").json()["status"] == "failed"

    monkeypatch.undo()  # the broker is back
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(shown["retry_url"]).status_code == 202
    run_export(shown["id"])  # what the worker does with the message (eager mode has already)
    job = ExportJob.objects.get(pk=shown["id"])
    assert (job.status, job.error, job.rows_done) == ("done", "", 12) and export_file(job) is not None


def test_a_done_export_whose_file_is_gone_says_so(study, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = export_create(study=study, user=study.owner, format_name="raw")
    job.refresh_from_db()
    export_file(job).unlink()  # e.g. an operator cleaned the export folder
    response = client_for(study.owner).get(f"/api/v1/exports/{job.pk}/download/")
    assert response.status_code == 409 and "no longer on the server" in response.json()["detail"]


def dead_worker_job(study, *, attempts=1, minutes_ago=30) -> ExportJob:
    """What a killed worker leaves: a RUNNING job with an old heartbeat and a half-written folder."""
    beat = timezone.now() - timedelta(minutes=minutes_ago)
    job = ExportJob.objects.create(study=study, format="raw", options={}, created_by=study.owner, status="running",
                                   attempts=attempts, started_at=beat, heartbeat_at=beat, rows_done=4, rows_total=12)
    half = Path(settings.EXPORT_ROOT) / f".job{job.pk}-dead" / f"jobs-raw-{job.pk}"
    half.mkdir(parents=True)
    (half / "raw.jsonl").write_text('{"annotation_id": 1}\n{"annot')
    return job


def test_a_job_left_running_by_a_dead_worker_is_stale_requeued_and_completed(study, django_capture_on_commit_callbacks):
    job = dead_worker_job(study)
    assert job.is_stale and job.can_retry and export_file(job) is None
    shown = client_for(study.owner).get(f"/api/v1/exports/{job.pk}/").json()
    assert shown["status"] == "running" and shown["stale"] is True and shown["retry_url"]
    with django_capture_on_commit_callbacks(execute=True):
        assert exports_requeue_stale() == {"requeued": 1, "failed": 0}
    job.refresh_from_db()
    assert (job.status, job.attempts, job.rows_done) == ("done", 2, 12)
    assert [p.name for p in leftovers()] == [f"jobs-raw-{job.pk}.zip"]  # the dead attempt's folder is gone


def test_a_redelivered_task_starts_the_export_over(study):
    """acks_late + reject_on_worker_lost hand a killed worker's task to another worker: it finds
    the job RUNNING (fresh heartbeat, no time to go stale) and starts over."""
    job = dead_worker_job(study, minutes_ago=0)
    assert not job.is_stale
    run_export(job.pk)
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("done", 2) and export_file(job) is not None


def test_an_export_that_keeps_dying_gives_up_and_can_be_retried(study, django_capture_on_commit_callbacks):
    job = dead_worker_job(study, attempts=MAX_ATTEMPTS)
    with django_capture_on_commit_callbacks(execute=True):
        assert exports_requeue_stale() == {"requeued": 0, "failed": 1}
    job.refresh_from_db()
    assert job.status == "failed" and f"{MAX_ATTEMPTS} times" in job.error
    run_export(job.pk)  # a late redelivery changes nothing
    job.refresh_from_db()
    assert job.status == "failed"
    with django_capture_on_commit_callbacks(execute=True):
        export_retry(job=job)
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("done", 1)


def test_only_failed_or_stale_exports_can_be_retried(study, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        done = export_create(study=study, user=study.owner, format_name="raw")
    done.refresh_from_db()
    with pytest.raises(Conflict):
        export_retry(job=done)
    running = dead_worker_job(study, minutes_ago=1)
    response = client_for(study.owner).post(f"/api/v1/exports/{running.pk}/retry/")
    assert response.status_code == 409 and "running" in response.json()["detail"]
    stranger = make_user("stranger", researcher=True)
    assert client_for(stranger).post(f"/api/v1/exports/{running.pk}/retry/").status_code == 404


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_export_leaves_no_file_and_the_job_completes_on_redelivery(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: a second process must see the test database (set DATABASE_URL=postgres://...)")
    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=20, redundancy=2, slug="killed")
    bulk_annotate(study, [add_annotator(study, "ann0"), add_annotator(study, "ann1")], lambda unit, k: unit.candidate_ids[k % 2])
    job = ExportJob.objects.create(study=study, format="trl-preference", options={}, created_by=owner)
    started = tmp_path / "started"
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    script = (
        "import sys, time, django; django.setup()\n"
        "import exports.services as s\n"
        "original = s.annotation_rows\n"
        "def slow(study, **kw):\n"
        "    for n, row in enumerate(original(study, **kw)):\n"
        "        if n == 10:\n"
        "            open(sys.argv[2], 'w').write('mid-export'); time.sleep(120)\n"
        "        yield row\n"
        "s.annotation_rows = slow\n"
        "s.export_run(job_id=int(sys.argv[1]))\n"
    )
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings_test", "PYTHONPATH": str(ROOT),
           "MEDIA_ROOT": str(Path(settings.EXPORT_ROOT).parent)}
    env.pop("REDIS_URL", None)
    worker = subprocess.Popen([sys.executable, "-c", script, str(job.pk), str(started)], env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert worker.poll() is None, "the worker process ended before the export started"
            assert time.monotonic() < deadline, "the export did not start"
            time.sleep(0.1)
        job.refresh_from_db()
        assert job.status == "running" and job.attempts == 1
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
    job.refresh_from_db()
    assert job.status == "running" and export_file(job) is None
    assert not [p for p in leftovers() if p.suffix == ".zip"]  # nothing offered; only the dead attempt's folder
    run_export(job.pk)  # the broker redelivers the unacknowledged task
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("done", 2)
    assert [p.name for p in leftovers()] == [f"killed-trl-preference-{job.pk}.zip"]
    with zipfile.ZipFile(export_file(job)) as zf:
        data = next(n for n in zf.namelist() if n.endswith("trl_preference.jsonl"))
        assert len(zf.read(data).decode().splitlines()) == 40


# --- background imports ---------------------------------------------------------------------


def items_file(n: int, *, bad_line: int | None = None) -> bytes:
    lines = []
    for i in range(n):
        item = {"id": f"bg-{i}", "prompt": f"p{i}", "candidates": [{"system": "x", "text": "a"}, {"system": "y", "text": "b"}]}
        if bad_line == i + 1:
            item["candidates"][1]["system"] = "x"
        lines.append(json.dumps(item))
    return ("\n".join(lines) + "\n").encode()


def uploaded_files() -> list[Path]:
    folder = Path(settings.MEDIA_ROOT) / "imports"
    return sorted(folder.iterdir()) if folder.exists() else []


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def test_a_large_import_runs_in_the_background_and_reports_what_it_took(media, django_capture_on_commit_callbacks):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=0, slug="bg")
    client = client_for(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/studies/{study.slug}/imports/", {"file": SimpleUploadedFile("items.jsonl", items_file(2500)),
                                                                         "kind": "items", "format": "jsonl"}, format="multipart")
    assert response.status_code == 202, response.json()
    job = client.get(f"/api/v1/imports/{response.json()['id']}/").json()
    assert (job["status"], job["rows_done"], job["counts"]) == ("done", 2500, {"items": 2500, "units_in_study": 2500})
    assert Item.objects.filter(study=study).count() == 2500 and uploaded_files() == []


def test_a_bad_background_import_stores_nothing_and_names_the_line(media, django_capture_on_commit_callbacks):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=0, slug="bg-bad")
    with django_capture_on_commit_callbacks(execute=True):
        job = import_create(study=study, user=owner, kind="items", format_name="jsonl",
                            uploaded=SimpleUploadedFile("items.jsonl", items_file(2500, bad_line=2001)))
    job.refresh_from_db()
    assert job.status == "failed" and "line 2001, candidates[1].system" in job.error and "nothing was imported" in job.error
    assert job.errors == {"line 2001, candidates[1].system": "system 'x' appears twice in this item"}
    assert not Item.objects.filter(study=study).exists() and uploaded_files() == []


def test_background_imports_of_scores_and_gzipped_preferences(media, django_capture_on_commit_callbacks):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=2, slug="bg-scores")
    excerpt = ROOT / "tests" / "golden" / "hh_rlhf" / "harmless-base-test.excerpt.jsonl"
    with django_capture_on_commit_callbacks(execute=True):
        scores = import_create(study=study, user=owner, kind="scores", format_name="csv",
                               uploaded=SimpleUploadedFile("s.csv", b"item_id,system,judge,score\nit-0,sys-a,comet,0.9\nit-1,sys-b,comet,0.1\n"))
        pairs = import_create(study=study, user=owner, kind="items", format_name="trl-preference",
                              uploaded=SimpleUploadedFile("hh.jsonl.gz", gzip.compress(excerpt.read_bytes())))
    scores.refresh_from_db()
    pairs.refresh_from_db()
    assert (scores.status, scores.counts) == ("done", {"scores": 2, "judges": ["comet"]})
    assert Candidate.objects.get(item__external_id="it-1", system="sys-b").judges["comet"] == 0.1
    assert (pairs.status, pairs.rows_done) == ("done", 8)


def test_an_import_that_cannot_be_queued_fails_saying_why_and_keeps_no_upload(media, monkeypatch, django_capture_on_commit_callbacks):
    from exports.tasks import run_import

    monkeypatch.setattr(run_import, "delay", unreachable_broker)
    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=0, slug="bg-no-broker")
    with django_capture_on_commit_callbacks(execute=True):
        job = import_create(study=study, user=owner, kind="items", format_name="jsonl", uploaded=SimpleUploadedFile("i.jsonl", items_file(3)))
    job.refresh_from_db()
    assert job.status == "failed" and "Nothing was imported" in job.error and "unreachable" in job.error
    assert uploaded_files() == [] and not Item.objects.filter(study=study).exists()


def test_an_import_of_an_unknown_kind_or_format_is_refused(media):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=0, slug="bg-refused")
    client = client_for(owner)
    for data, field in [({"kind": "scores", "format": "tsv"}, "format"), ({"kind": "items", "format": "xml"}, "format"),
                        ({"kind": "votes"}, "kind")]:
        response = client.post(f"/api/v1/studies/{study.slug}/imports/", {"file": SimpleUploadedFile("f", b"x"), **data}, format="multipart")
        assert response.status_code == 400 and field in response.json()["errors"], response.json()
    assert ImportJob.objects.count() == 0 and uploaded_files() == []


def test_judgments_made_elsewhere_import_in_the_background_all_or_nothing(media, django_capture_on_commit_callbacks):
    from annotation.models import Annotation

    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=3, slug="bg-judgments", task_config={"allow_tie": True})
    client = client_for(owner)
    header = "item_id,system_a,system_b,winner,rater\n"
    good = header + "".join(f"it-{i},sys-a,sys-b,{w},{r}\n" for i in range(3) for r, w in (("r1", "a"), ("r2", "tie")))
    bad = header + "it-0,sys-a,sys-b,a,r9\nit-1,sys-a,sys-z,a,r9\n"
    with django_capture_on_commit_callbacks(execute=True):
        failed = client.post(f"/api/v1/studies/{study.slug}/imports/", {"file": SimpleUploadedFile("bad.csv", bad.encode()),
                                                                         "kind": "judgments", "format": "pairwise-labels"}, format="multipart")
    job = client.get(f"/api/v1/imports/{failed.json()['id']}/").json()
    assert job["status"] == "failed" and "line 3, system_a" in job["errors"] and "nothing was imported" in job["error"], job
    assert not Annotation.objects.filter(study=study).exists()
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(f"/api/v1/studies/{study.slug}/imports/", {"file": SimpleUploadedFile("labels.csv", good.encode()),
                                                                       "kind": "judgments", "format": "pairwise-labels"}, format="multipart")
    job = client.get(f"/api/v1/imports/{done.json()['id']}/").json()
    assert (job["status"], job["rows_done"], job["counts"]) == ("done", 6, {"judgments": 6, "raters": 2}), job
    assert Annotation.objects.filter(study=study).count() == 6 and uploaded_files() == []
    refused = client.post(f"/api/v1/studies/{study.slug}/imports/", {"file": SimpleUploadedFile("x.jsonl", b"{}"),
                                                                      "kind": "judgments", "format": "jsonl"}, format="multipart")
    assert refused.status_code == 400 and "judgments come as" in refused.json()["detail"]
