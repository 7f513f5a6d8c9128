"""Export jobs: create (validated, queued after commit) and run (stream to a temporary
folder, zip, and move in place only when complete)."""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from annotation.errors import Invalid
from annotation.models import Annotation, Study
from exports.card import render_card
from exports.formats import ExportContext, FormatError, get_exporter
from exports.models import ExportJob
from exports.selectors import annotation_rows

PROGRESS_EVERY = 5000


def _exporter_and_options(format_name: str, options: dict[str, Any]):
    try:
        exporter = get_exporter(format_name)
    except KeyError as exc:
        raise Invalid(str(exc.args[0]), {"format": "unknown format"}) from None
    if not isinstance(options, dict):
        raise Invalid("options: must be an object", {"options": "must be an object"})
    try:
        return exporter, exporter.parse_options(options)
    except FormatError as exc:
        raise Invalid(str(exc), {exc.field: exc.message}) from None


def export_create(*, study: Study, user, format_name: str, options: dict[str, Any] | None = None) -> ExportJob:
    from exports.tasks import run_export

    _, clean = _exporter_and_options(format_name, options or {})
    with transaction.atomic():
        job = ExportJob.objects.create(study=study, format=format_name, options=clean, created_by=user)
        transaction.on_commit(lambda: run_export.delay(job.pk))
    return job


def export_to_folder(*, study: Study, format_name: str, options: dict[str, Any], out_dir: Path, on_progress=None) -> dict:
    """Write data files and the dataset card into out_dir (created, must not exist)."""
    exporter, clean = _exporter_and_options(format_name, options)
    out_dir.mkdir(parents=True)
    done = 0

    def counted(rows):
        nonlocal done
        for row in rows:
            done += 1
            if on_progress and done % PROGRESS_EVERY == 0:
                on_progress(done)
            yield row

    summary = exporter.write(counted(annotation_rows(study)), out_dir, ExportContext(spec=study.spec(), options=clean))
    (out_dir / "README.md").write_text(render_card(study.spec(), format_name, summary, {}), encoding="utf-8")
    return summary.counts


def export_run(*, job_id: int) -> ExportJob:
    job = ExportJob.objects.select_related("study").get(pk=job_id)
    if job.status == ExportJob.Status.DONE:
        return job
    job.status, job.error, job.rows_done = ExportJob.Status.RUNNING, "", 0
    job.rows_total = Annotation.objects.filter(study=job.study).count()
    job.save(update_fields=["status", "error", "rows_done", "rows_total"])
    root = Path(settings.EXPORT_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".job{job.pk}-", dir=root))
    try:
        name = f"{job.study.slug}-{job.format}-{job.pk}"

        def progress(n: int) -> None:
            ExportJob.objects.filter(pk=job.pk).update(rows_done=n)

        counts = export_to_folder(study=job.study, format_name=job.format, options=job.options, out_dir=work / name, on_progress=progress)
        partial = work / f"{name}.zip.part"
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for path in sorted((work / name).rglob("*")):
                zf.write(path, path.relative_to(work))
        final = root / f"{name}.zip"
        partial.replace(final)  # atomic: a download never sees a partial file
        job.status, job.path, job.counts = ExportJob.Status.DONE, final.name, counts
        job.rows_done, job.finished_at = job.rows_total, timezone.now()
    except Exception as exc:  # the job records why it failed; the worker logs the traceback
        job.status, job.error, job.finished_at = ExportJob.Status.FAILED, f"{type(exc).__name__}: {exc}", timezone.now()
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
        job.save()
    return job


def export_file(job: ExportJob) -> Path | None:
    if job.status != ExportJob.Status.DONE or not job.path:
        return None
    path = Path(settings.EXPORT_ROOT) / job.path
    return path if path.is_file() else None
