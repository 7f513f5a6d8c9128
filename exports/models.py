from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from annotation.models import Study

# A running job whose heartbeat (progress) is older than this is taken for dead: its worker
# was killed or lost. Exports beat every few thousand rows and per file they zip.
STALE_AFTER = timedelta(minutes=10)


class JobStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ExportJob(models.Model):
    Status = JobStatus

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="exports")
    format = models.CharField(max_length=50)
    options = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING)
    rows_done = models.PositiveBigIntegerField(default=0)
    rows_total = models.PositiveBigIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    path = models.CharField(max_length=500, blank=True)  # the finished zip, relative to EXPORT_ROOT
    attempts = models.PositiveSmallIntegerField(default=0)  # runs started (a killed worker's run counts)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="exportjob_stale")]

    @property
    def progress(self) -> float:
        if self.status == JobStatus.DONE:
            return 1.0
        return min(1.0, self.rows_done / self.rows_total) if self.rows_total else 0.0

    @property
    def is_stale(self) -> bool:
        """Running, but no sign of life for STALE_AFTER: the worker died; retry it."""
        beat = self.heartbeat_at or self.started_at
        return self.status == JobStatus.RUNNING and beat is not None and timezone.now() - beat > STALE_AFTER

    @property
    def can_retry(self) -> bool:
        return self.status == JobStatus.FAILED or self.is_stale


class ImportJob(models.Model):
    """A large import run in the background: items (any item importer), judge scores, or
    judgments made elsewhere (annotation.services.judgments_import, as annotations). The upload
    is kept on disk until the job ends; the import itself is all-or-nothing."""

    Status = JobStatus

    class Kind(models.TextChoices):
        ITEMS = "items"
        SCORES = "scores"
        JUDGMENTS = "judgments"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="imports")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    format = models.CharField(max_length=50)
    filename = models.CharField(max_length=255, blank=True)  # as uploaded, for the page
    upload = models.CharField(max_length=500, blank=True)  # the stored upload, relative to MEDIA_ROOT
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING)
    rows_done = models.PositiveBigIntegerField(default=0)  # rows taken, once done (all or nothing)
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    errors = models.JSONField(default=dict, blank=True)  # "line N, field" -> message
    attempts = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
