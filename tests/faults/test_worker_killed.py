"""A real Celery worker, on the real Redis broker and PostgreSQL, killed during an export:

- its pool process killed (SIGKILL): the broker hands the task back (acks_late,
  reject_on_worker_lost), the export starts over and completes;
- the whole worker killed: the job is left running with no one beating; the periodic sweep
  requeues it once stale, and a new worker completes it.

Throughout, the download endpoint offers nothing but a complete zip: 409 until the job is
done, never a partial file. Each test's worker listens on a queue of its own, so no other
worker on the same broker takes its tasks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from exports.models import ExportJob
from exports.services import exports_requeue_stale
from tests.factories import add_annotator, make_study, make_user
from tests.faults.conftest import needs_postgres_and_redis
from tests.integration.test_exports_formats import bulk_annotate

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.faults, pytest.mark.postgres, needs_postgres_and_redis, pytest.mark.django_db(transaction=True)]

# The worker's export is slowed down after a few rows (and says when it got there), so that
# the kill lands mid-export however fast the machine.
WORKER = """
import sys, time, django
django.setup()
import exports.services as s
if not hasattr(s, "annotation_rows"):
    sys.exit("exports.services.annotation_rows is gone: update tests/faults/test_worker_killed.py")
original, marker = s.annotation_rows, sys.argv[2]
def slow(study, **kw):
    for n, row in enumerate(original(study, **kw)):
        if n == 5:
            open(marker, "w").write("mid-export")
        if n >= 5:
            time.sleep(0.04)
        yield row
s.annotation_rows = slow
from config.celery import app
app.worker_main(["worker", "-Q", sys.argv[1], "--pool", "prefork", "--concurrency", "1", "--loglevel", "WARNING",
                 "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", "faults-" + sys.argv[1] + "@%h"])
"""


@pytest.fixture
def queue(monkeypatch):
    """A queue of this test's own: run_export.delay sends there while the test runs."""
    from config.celery import app
    from exports.tasks import run_export

    name = f"faults-{uuid.uuid4().hex[:10]}"
    monkeypatch.setattr(run_export, "delay", lambda *args: run_export.apply_async(args, queue=name))
    before = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield name
    app.conf.task_always_eager = before


class Worker:
    def __init__(self, queue: str, marker: Path, media: Path):
        db = connection.settings_dict
        url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings_test", "PYTHONPATH": str(ROOT),
               "MEDIA_ROOT": str(media)}
        self.log = (media.parent / f"worker-{time.monotonic_ns()}.log").open("w")
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER, queue, str(marker)], env=env, cwd=ROOT, start_new_session=True,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def pool_pids(self) -> list[int]:
        try:
            return [int(p) for p in Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()]
        except OSError:
            return []

    def kill_all(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)
        self.log.close()

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()[-3000:]


@pytest.fixture
def setup(tmp_path, settings):
    settings.EXPORT_ROOT = tmp_path / "media" / "exports"  # what the worker's MEDIA_ROOT makes of it
    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=20, redundancy=2, slug="worker-killed")
    bulk_annotate(study, [add_annotator(study, "ann0"), add_annotator(study, "ann1")], lambda unit, k: unit.candidate_ids[k % 2])
    client = APIClient()
    client.force_authenticate(owner)
    return owner, study, client, tmp_path


def watch_downloads(client, job: ExportJob, until, timeout: float) -> None:
    """Poll the download while waiting: 409 until the job is done, then a complete zip."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(f"/api/v1/exports/{job.pk}/download/")
        if response.status_code == 200:
            assert_complete(response)
        else:
            assert response.status_code == 409, (response.status_code, response.content[:200])
        if until():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out; job: {ExportJob.objects.filter(pk=job.pk).values().first()}")


def assert_complete(response) -> None:
    import io

    data = b"".join(response.streaming_content)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        assert any(n.endswith("README.md") for n in names)
        rows = next(n for n in names if n.endswith("raw.jsonl"))
        assert len(zf.read(rows).decode().splitlines()) == 40


def no_partial_files() -> bool:
    """While no attempt has finished, no zip sits where downloads are served from."""
    root = Path(settings.EXPORT_ROOT)
    return not root.exists() or not [p for p in root.iterdir() if p.is_file()]


def test_a_killed_pool_process_hands_the_export_back_and_it_completes(setup, queue):
    _owner, study, client, tmp = setup
    marker = tmp / "mid-export"
    worker = Worker(queue, marker, tmp / "media")
    try:
        response = client.post(f"/api/v1/studies/{study.slug}/exports/", {"format": "raw"}, format="json")
        assert response.status_code == 202
        job = ExportJob.objects.get(pk=response.json()["id"])
        watch_downloads(client, job, marker.exists, 90)
        job.refresh_from_db()
        assert (job.status, job.attempts) == ("running", 1)
        pids = worker.pool_pids()
        assert pids, "the worker has no pool process"
        marker.unlink()
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        assert client.get(f"/api/v1/exports/{job.pk}/download/").status_code == 409
        watch_downloads(client, job, lambda: ExportJob.objects.get(pk=job.pk).status in ("done", "failed"), 90)
        job.refresh_from_db()
        assert (job.status, job.attempts, job.error) == ("done", 2, ""), worker.output()
        assert sorted(p.name for p in Path(settings.EXPORT_ROOT).iterdir()) == [job.path]  # the dead attempt's folder is gone
        assert_complete(client.get(f"/api/v1/exports/{job.pk}/download/"))
    finally:
        worker.kill_all()


def test_a_killed_worker_leaves_a_stale_job_that_is_requeued_and_completed(setup, queue):
    _owner, study, client, tmp = setup
    marker = tmp / "mid-export"
    worker = Worker(queue, marker, tmp / "media")
    try:
        response = client.post(f"/api/v1/studies/{study.slug}/exports/", {"format": "raw"}, format="json")
        job = ExportJob.objects.get(pk=response.json()["id"])
        watch_downloads(client, job, marker.exists, 90)
    finally:
        worker.kill_all()  # the whole worker, pool and all: its task stays unacknowledged
    marker.unlink()
    job.refresh_from_db()
    assert job.status == "running" and not job.is_stale
    assert client.get(f"/api/v1/exports/{job.pk}/download/").status_code == 409
    assert no_partial_files()

    # Ten minutes later no heartbeat came: the sweep (celery beat) requeues it.
    ExportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=11))
    assert ExportJob.objects.get(pk=job.pk).can_retry
    assert exports_requeue_stale() == {"requeued": 1, "failed": 0}
    fresh = Worker(queue, marker, tmp / "media")
    try:
        watch_downloads(client, job, lambda: ExportJob.objects.get(pk=job.pk).status in ("done", "failed"), 120)
        job.refresh_from_db()
        assert (job.status, job.attempts) == ("done", 2), fresh.output()
        assert_complete(client.get(f"/api/v1/exports/{job.pk}/download/"))
        assert sorted(p.name for p in Path(settings.EXPORT_ROOT).iterdir()) == [job.path]
    finally:
        fresh.kill_all()
