"""Export and import jobs.

Exports: create (validated, queued after commit) and run (stream rows from the database into a
temporary folder, zip it, and move the zip in place only when complete). A run is idempotent:
a job found "running" when its task starts was left by a worker that died (acks_late and
reject_on_worker_lost redeliver the task), so it starts over, clearing that attempt's
leftovers, up to MAX_ATTEMPTS. A job whose worker stopped beating is stale: the beat task
requeues it, and a researcher may retry it (as any failed job).

Imports: items (any item importer), judge scores and judgments made elsewhere, all-or-nothing,
run inline (small files) or as background jobs (ImportJob) that store the upload and report
what they took or why not.
"""

from __future__ import annotations

import gc
import gzip
import io
import logging
import re
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from annotation.errors import Conflict, Invalid
from annotation.models import Annotation, Candidate, Study
from annotation.services import items_import, judgments_import
from exports.formats import FormatError, all_importers, all_judgment_importers, get_exporter, get_importer
from exports.formats.judge_scores import SCORE_FORMATS, parse_judge_scores
from exports.models import STALE_AFTER, ExportJob, ImportJob, JobStatus
from exports.pipeline import run_exporter
from exports.selectors import annotation_rows

log = logging.getLogger(__name__)

PROGRESS_EVERY = 5000
MAX_ATTEMPTS = 3
SCORE_BATCH = 1000
# Already-compressed files are stored in the zip as they are; text is deflated (fast level).
STORED_SUFFIXES = {".parquet", ".gz", ".zip"}


def _exporter_and_options(format_name: str, options: dict[str, Any], task_type: str | None = None):
    try:
        exporter = get_exporter(format_name)
    except KeyError as exc:
        raise Invalid(str(exc.args[0]), {"format": "unknown format"}) from None
    if not isinstance(options, dict):
        raise Invalid("options: must be an object", {"options": "must be an object"})
    try:
        if task_type is not None:
            exporter.check_task_type(task_type)
        return exporter, exporter.parse_options(options)
    except FormatError as exc:
        raise Invalid(str(exc), {exc.field: exc.message}) from None


def _send(task, model, job_id: int, failure: str) -> bool:
    """Queue a job's task (after commit). With the broker unreachable the message is never
    sent, so the job would wait "pending" forever: it fails at once, saying why, instead.
    (Without REDIS_URL, Celery runs tasks in-process and there is no broker to lose.)"""
    try:
        task.delay(job_id)
    except (BrokerError, OSError) as exc:
        log.warning("could not queue %s %s: %s", model.__name__, job_id, exc)
        model.objects.filter(pk=job_id, status=JobStatus.PENDING).update(
            status=JobStatus.FAILED, finished_at=timezone.now(),
            error=f"{failure}: the task queue (broker) is unreachable ({exc}).",
        )
        return False
    return True


def _send_export(job_id: int) -> None:
    from exports.tasks import run_export

    _send(run_export, ExportJob, job_id, "Not started: the export could not be queued; retry it once the task queue is back")


def export_create(*, study: Study, user, format_name: str, options: dict[str, Any] | None = None) -> ExportJob:
    _, clean = _exporter_and_options(format_name, options or {}, study.task_type)
    with transaction.atomic():
        job = ExportJob.objects.create(study=study, format=format_name, options=clean, created_by=user)
        transaction.on_commit(lambda: _send_export(job.pk))
    return job


@contextmanager
def _heap_frozen():
    """The objects alive before an export or import (Django, the worker, pyarrow) are left out
    of the garbage collector's passes while it runs. It allocates millions of short-lived
    objects, so the collector runs often, and each full pass walked that whole heap again: a
    quarter of a million-row export's CPU. Its own garbage is still collected."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def export_to_folder(*, study: Study, format_name: str, options: dict[str, Any], out_dir: Path, on_progress=None) -> dict:
    """Write data files and the dataset card into out_dir (created, must not exist)."""
    exporter, clean = _exporter_and_options(format_name, options, study.task_type)
    out_dir.mkdir(parents=True)
    done = 0

    def counted(rows):
        nonlocal done
        for row in rows:
            done += 1
            if on_progress and done % PROGRESS_EVERY == 0:
                on_progress(done)
            yield row

    try:
        with _heap_frozen():
            summary = run_exporter(exporter, counted(annotation_rows(study)), out_dir, study.spec(), clean)
    except FormatError as exc:
        raise Invalid(str(exc), {exc.field: exc.message}) from None
    return summary.counts


def _claim(job_id: int) -> ExportJob:
    """Start an attempt: the job becomes RUNNING with a fresh heartbeat. A job found RUNNING
    was left by a worker that died; after MAX_ATTEMPTS such deaths it fails instead."""
    now = timezone.now()
    with transaction.atomic():
        job = ExportJob.objects.select_for_update().select_related("study").get(pk=job_id)
        if job.status in (JobStatus.DONE, JobStatus.FAILED):  # ended; only export_retry runs it again
            return job
        if job.status == JobStatus.RUNNING and job.attempts >= MAX_ATTEMPTS:
            job.status, job.finished_at = JobStatus.FAILED, now
            job.error = f"The export was interrupted {job.attempts} times (its worker stopped or was killed); retry it once the workers are healthy."
            job.save(update_fields=["status", "finished_at", "error"])
            return job
        job.status, job.error, job.rows_done, job.path = JobStatus.RUNNING, "", 0, ""
        job.attempts += 1
        job.started_at = job.heartbeat_at = now
        job.finished_at = None
        job.save(update_fields=["status", "error", "rows_done", "path", "attempts", "started_at", "heartbeat_at", "finished_at"])
    return job


def _zip_folder(folder: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w") as zf:
        for path in sorted(folder.rglob("*")):
            stored = path.suffix in STORED_SUFFIXES
            zf.write(path, path.relative_to(folder.parent), compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED,
                     compresslevel=None if stored else 1)


def export_run(*, job_id: int) -> ExportJob:
    job = _claim(job_id)
    if job.status != JobStatus.RUNNING:
        return job
    root = Path(settings.EXPORT_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    for leftover in root.glob(f".job{job.pk}-*"):  # an earlier attempt's folder, if its worker died
        shutil.rmtree(leftover, ignore_errors=True)
    job.rows_total = Annotation.objects.filter(study=job.study).count()
    ExportJob.objects.filter(pk=job.pk).update(rows_total=job.rows_total)
    work = Path(tempfile.mkdtemp(prefix=f".job{job.pk}-", dir=root))
    try:
        name = f"{job.study.slug}-{job.format}-{job.pk}"

        def progress(n: int) -> None:
            ExportJob.objects.filter(pk=job.pk).update(rows_done=n, heartbeat_at=timezone.now())

        counts = export_to_folder(study=job.study, format_name=job.format, options=job.options, out_dir=work / name, on_progress=progress)
        ExportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())
        partial = work / f"{name}.zip.part"
        _zip_folder(work / name, partial)
        final = root / f"{name}.zip"
        partial.replace(final)  # atomic: a download never sees a partial file
        job.status, job.path, job.counts = JobStatus.DONE, final.name, counts
        job.rows_done, job.finished_at = job.rows_total, timezone.now()
    except Exception as exc:  # the job records why it failed; the worker logs the traceback
        reason = exc.message if isinstance(exc, Invalid) else f"{type(exc).__name__}: {exc}"
        job.status, job.error, job.finished_at = JobStatus.FAILED, reason, timezone.now()
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
        job.save(update_fields=["status", "path", "counts", "rows_done", "rows_total", "error", "finished_at"])
    return job


def export_retry(*, job: ExportJob) -> ExportJob:
    """Run a failed (or stale) export again, from the start."""
    if not job.can_retry:
        raise Conflict(f"This export is {job.status}; only a failed export, or one whose worker stopped responding, can be retried.")
    with transaction.atomic():
        ExportJob.objects.filter(pk=job.pk).update(status=JobStatus.PENDING, error="", rows_done=0, attempts=0, finished_at=None)
        transaction.on_commit(lambda: _send_export(job.pk))
    job.refresh_from_db()
    return job


def exports_requeue_stale() -> dict[str, int]:
    """Periodic: a running export whose worker went silent is queued again (its next attempt
    starts over), or failed once it has used up its attempts."""
    requeued = failed = 0
    limit = timezone.now() - STALE_AFTER
    for job in ExportJob.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=limit):
        if job.attempts < MAX_ATTEMPTS:
            if ExportJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING, heartbeat_at__lt=limit).update(status=JobStatus.PENDING):
                transaction.on_commit(lambda pk=job.pk: _send_export(pk))
                requeued += 1
        else:
            failed += ExportJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
                status=JobStatus.FAILED, finished_at=timezone.now(),
                error=f"The export's worker stopped responding {job.attempts} times; retry it once the workers are healthy.",
            )
    return {"requeued": requeued, "failed": failed}


def export_file(job: ExportJob) -> Path | None:
    if job.status != JobStatus.DONE or not job.path:
        return None
    path = Path(settings.EXPORT_ROOT) / job.path
    return path if path.is_file() else None


# --- imports --------------------------------------------------------------------------------


def _where(exc: FormatError) -> str:
    return f"line {exc.line}, {exc.field}" if exc.line is not None else exc.field


def judge_scores_import(*, study: Study, lines: Iterable[str], format_name: str = "csv") -> dict[str, Any]:
    """Attach judge scores (item_id, system, judge, score) to the study's candidates, or with
    an empty item_id to its systems (system level), all or nothing; a score for an existing
    judge replaces it. The first bad row raises Invalid naming its line and field."""
    scores = 0
    judges: set[str] = set()
    try:
        with transaction.atomic():
            records = parse_judge_scores(lines, format_name)
            while batch := list(islice(records, SCORE_BATCH)):
                if scores + len(batch) > settings.MAX_IMPORT_ROWS:
                    raise FormatError(batch[-1].line, "file", f"more than {settings.MAX_IMPORT_ROWS} scores in one upload")
                _store_scores(study, batch)
                scores += len(batch)
                judges.update(r.judge for r in batch)
            if scores == 0:
                raise FormatError(None, "file", "no scores found (the file is empty)")
    except FormatError as exc:
        raise Invalid(f"{exc} (nothing was imported)", {_where(exc): exc.message}) from None
    except UnicodeDecodeError as exc:
        raise Invalid(f"file: not UTF-8 text ({exc.reason} at byte {exc.start}); nothing was imported", {"file": "not UTF-8"}) from None
    return {"scores": scores, "judges": sorted(judges)}


def _store_system_scores(study: Study, batch) -> None:
    """System-level scores (no item id): the judge's score of a whole system of the study."""
    if not batch:
        return
    known = set(Candidate.objects.filter(item__study=study, system__in={r.system for r in batch}).values_list("system", flat=True).distinct())
    locked = Study.objects.select_for_update().only("judge_system_scores").get(pk=study.pk)
    scores = {judge: dict(per) for judge, per in (locked.judge_system_scores or {}).items()}
    for record in batch:
        if record.system not in known:
            raise FormatError(record.line, "system", f"no candidate of this study comes from {record.system!r}")
        scores.setdefault(record.judge, {})[record.system] = record.score
    Study.objects.filter(pk=study.pk).update(judge_system_scores=scores)


def _store_scores(study: Study, batch) -> None:
    _store_system_scores(study, [r for r in batch if not r.item_id])
    batch = [r for r in batch if r.item_id]
    found: dict[tuple[str, str], Candidate] = {}
    systems: dict[str, list[str]] = {}
    for cand in Candidate.objects.filter(item__study=study, item__external_id__in={r.item_id for r in batch}).select_related("item").only(
        "id", "system", "judges", "item__external_id"
    ):
        found[(cand.item.external_id, cand.system)] = cand
        systems.setdefault(cand.item.external_id, []).append(cand.system)
    changed: dict[int, Candidate] = {}
    for record in batch:
        cand = found.get((record.item_id, record.system))
        if cand is None:
            if record.item_id not in systems:
                raise FormatError(record.line, "item_id", f"no item {record.item_id!r} in this study")
            raise FormatError(record.line, "system", f"item {record.item_id!r} has no candidate from {record.system!r} "
                              f"(it has: {', '.join(sorted(systems[record.item_id]))})")
        cand.judges = {**cand.judges, record.judge: record.score}
        changed[cand.id] = cand
    Candidate.objects.bulk_update(list(changed.values()), ["judges"], batch_size=SCORE_BATCH)


def _import_progress_key(job_id: int) -> str:
    return f"exports:import:{job_id}:lines"


def import_lines_read(job: ImportJob) -> int | None:
    """Lines read so far by a running import (kept in the cache: the import's own
    transaction hides its rows until the end)."""
    return cache.get(_import_progress_key(job.pk)) if job.status == JobStatus.RUNNING else None


def _counting(lines: Iterable[str], job_id: int, every: int = 10_000) -> Iterator[str]:
    key = _import_progress_key(job_id)
    for n, line in enumerate(lines, start=1):
        if n % every == 0:
            cache.set(key, n, timeout=24 * 3600)
        yield line


def open_text(path: Path):
    """A text file (UTF-8, universal newlines off), transparently gunzipped for *.gz."""
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def import_rows(*, study: Study, kind: str, format_name: str, lines: Iterable[str]) -> dict[str, Any]:
    if kind == ImportJob.Kind.SCORES:
        return judge_scores_import(study=study, lines=lines, format_name=format_name)
    if kind == ImportJob.Kind.JUDGMENTS:
        return judgments_import(study=study, lines=lines, format_name=format_name)
    return items_import(study=study, lines=lines, format_name=format_name)


def judgment_formats() -> list[str]:
    """Formats judgments made elsewhere come in: judgments of the study's items, or items
    together with their judgments (an MQM TSV)."""
    with_items = [name for name, importer in all_importers().items() if hasattr(importer, "parse_segments")]
    return sorted({*all_judgment_importers(), *with_items})


def _check_import(kind: str, format_name: str) -> None:
    if kind not in ImportJob.Kind.values:
        raise Invalid(f"kind: must be one of: {', '.join(ImportJob.Kind.values)}", {"kind": "unknown kind"})
    if kind == ImportJob.Kind.SCORES and format_name not in SCORE_FORMATS:
        raise Invalid(f"format: judge scores come as {' or '.join(SCORE_FORMATS)}", {"format": "unknown format"})
    if kind == ImportJob.Kind.ITEMS:
        try:
            get_importer(format_name)
        except KeyError as exc:
            raise Invalid(str(exc.args[0]), {"format": "unknown format"}) from None
    if kind == ImportJob.Kind.JUDGMENTS and format_name not in judgment_formats():
        raise Invalid(f"format: judgments come as {', '.join(judgment_formats())}", {"format": "unknown format"})


def import_create(*, study: Study, user, kind: str, format_name: str, uploaded) -> ImportJob:
    """Store the upload and queue its import (run after commit)."""
    _check_import(kind, format_name)
    if uploaded.size > settings.MAX_UPLOAD_BYTES:
        raise Invalid(f"file: larger than {settings.MAX_UPLOAD_BYTES} bytes", {"file": "too large"})
    folder = Path(settings.MEDIA_ROOT) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(uploaded.name or "upload").name)[-100:]
    stored = folder / f"{uuid.uuid4().hex}-{safe}"
    with stored.open("wb") as out:
        for chunk in uploaded.chunks():
            out.write(chunk)
    with transaction.atomic():
        job = ImportJob.objects.create(study=study, kind=kind, format=format_name, filename=uploaded.name or "",
                                       upload=str(stored.relative_to(settings.MEDIA_ROOT)), created_by=user)
        transaction.on_commit(lambda: _send_import(job.pk, stored))
    return job


def _send_import(job_id: int, stored: Path) -> None:
    from exports.tasks import run_import

    if not _send(run_import, ImportJob, job_id, "Nothing was imported: the import could not be queued; upload the file again once the task queue is back"):
        stored.unlink(missing_ok=True)


def import_run(*, job_id: int) -> ImportJob:
    now = timezone.now()
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().select_related("study").get(pk=job_id)
        if job.status in (JobStatus.DONE, JobStatus.FAILED):
            return job
        if job.status == JobStatus.RUNNING and job.attempts >= MAX_ATTEMPTS:
            job.status, job.finished_at = JobStatus.FAILED, now
            job.error = f"The import was interrupted {job.attempts} times (its worker stopped); nothing was imported. Upload it again."
            job.save(update_fields=["status", "finished_at", "error"])
            return job
        job.status, job.attempts, job.started_at = JobStatus.RUNNING, job.attempts + 1, now
        job.save(update_fields=["status", "attempts", "started_at"])
    path = Path(settings.MEDIA_ROOT) / job.upload
    try:
        with open_text(path) as fh, _heap_frozen():  # as for exports: 50,000 items, 6.5 -> 5.3 s CPU
            result = import_rows(study=job.study, kind=job.kind, format_name=job.format, lines=_counting(fh, job.pk))
    except Invalid as exc:
        job.status, job.error, job.errors = JobStatus.FAILED, exc.message, exc.errors
    except OSError as exc:
        job.status, job.error = JobStatus.FAILED, f"file: cannot read the upload ({exc.strerror or exc}); nothing was imported"
    except Exception as exc:  # noqa: BLE001 - recorded on the job; the worker logs it too
        job.status, job.error = JobStatus.FAILED, f"{type(exc).__name__}: {exc} (nothing was imported)"
    else:
        job.status, job.counts = JobStatus.DONE, result
        job.rows_done = result["judgments"] if job.kind == ImportJob.Kind.JUDGMENTS else result.get("items", result.get("scores", 0))
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error", "errors", "counts", "rows_done", "finished_at"])
    cache.delete(_import_progress_key(job.pk))
    path.unlink(missing_ok=True)
    return job
