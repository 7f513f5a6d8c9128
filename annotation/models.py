"""Studies, items, candidates, units, assignments and annotations.

Models stay generic: task-specific content lives in JSON validated by the task type, and
task types, strategies and formats are stored by name, so adding one needs no migration.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models


def new_invite_token() -> str:
    return secrets.token_urlsafe(18)


class Study(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        LIVE = "live"
        PAUSED = "paused"
        CLOSED = "closed"

    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    task_type = models.CharField(max_length=50)
    task_config = models.JSONField(default=dict)
    instructions = models.TextField(blank=True)
    redundancy = models.PositiveIntegerField(default=3)
    strategy = models.CharField(max_length=50, default="uniform")
    strategy_params = models.JSONField(default=dict)
    quality = models.JSONField(default=dict)
    crowd = models.JSONField(default=dict, blank=True)
    # System-level judge scores imported as such (a corpus BLEU, a leaderboard score): judge ->
    # {system: score}. Segment-level scores ride on the candidates (Candidate.judges).
    judge_system_scores = models.JSONField(default=dict, blank=True)
    # Regular units, kept by the services that create them: the progress shown with every
    # unit must not count a million rows.
    n_units = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_studies")
    invite_token = models.CharField(max_length=40, unique=True, default=new_invite_token)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "studies"

    def __str__(self) -> str:
        return self.slug

    def spec(self) -> dict:
        """The study's protocol as the versionable spec document of DESIGN.md."""
        return {
            "slug": self.slug,
            "name": self.name,
            "task_type": self.task_type,
            "task_config": self.task_config,
            "instructions": self.instructions,
            "redundancy": self.redundancy,
            "strategy": {"name": self.strategy, "params": self.strategy_params},
            "quality": self.quality,
            "crowd": self.crowd,
            "status": self.status,
        }


class StudyMembership(models.Model):
    class Role(models.TextChoices):
        RESEARCHER = "researcher"
        ANNOTATOR = "annotator"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=12, choices=Role.choices)
    joined_at = models.DateTimeField(auto_now_add=True)
    # Quality control: results of gold units and attention checks; exclusion below threshold.
    qc_passed = models.PositiveIntegerField(default=0)
    qc_failed = models.PositiveIntegerField(default=0)
    excluded = models.BooleanField(default=False)
    excluded_reason = models.CharField(max_length=200, blank=True)
    # Crowd platforms: who this pseudonymous annotator is there (Prolific PID, MTurk worker id).
    platform = models.CharField(max_length=20, blank=True)
    worker_id = models.CharField(max_length=100, blank=True)
    platform_session = models.CharField(max_length=100, blank=True)
    # Judgments of this annotator in this study, kept by the submit service (no count per
    # request): all of them (what the annotator sees) and those of regular units (quota,
    # study progress).
    n_judged = models.PositiveIntegerField(default=0)
    n_regular = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["study", "user"], name="one_membership_per_study"),
            models.UniqueConstraint(
                fields=["study", "platform", "worker_id"],
                condition=~models.Q(worker_id=""),
                name="one_membership_per_crowd_worker",
            ),
        ]

    @property
    def pass_rate(self) -> float | None:
        checks = self.qc_passed + self.qc_failed
        return self.qc_passed / checks if checks else None

    def __str__(self) -> str:
        return f"{self.user} in {self.study} as {self.role}"


class Item(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="items")
    external_id = models.CharField(max_length=200)
    prompt = models.JSONField()  # a string, or a list of {"role", "content"} messages
    reference = models.TextField(blank=True)
    doc_id = models.CharField(max_length=200, blank=True)
    seg_id = models.CharField(max_length=50, blank=True)
    meta = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["study", "external_id"], name="unique_item_id_per_study")]

    def __str__(self) -> str:
        return self.external_id


class Candidate(models.Model):
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="candidates")
    system = models.CharField(max_length=200)
    text = models.TextField()
    judges = models.JSONField(default=dict, blank=True)  # judge name -> score
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["item_id", "position"]
        constraints = [models.UniqueConstraint(fields=["item", "system"], name="unique_system_per_item")]

    def __str__(self) -> str:
        return f"{self.item_id}/{self.system}"


class Unit(models.Model):
    """An item plus the candidates shown together. Counters make the next-unit query an
    index range scan: `n_taken` = submitted judgments + active leases, kept exact by the
    assignment service with conditional updates."""

    class Kind(models.TextChoices):
        REGULAR = "regular"
        GOLD = "gold"
        ATTENTION = "attention"
        REPEAT = "repeat"  # a pair shown again to the same annotator, in swapped order

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="units")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="units")
    candidate_ids = models.JSONField()  # canonical order (by item position)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.REGULAR)
    gold = models.JSONField(null=True, blank=True)  # expected response, for gold units
    n_done = models.PositiveIntegerField(default=0)
    n_taken = models.PositiveIntegerField(default=0)
    rand = models.FloatField(default=0.0)  # random key for uniform sampling by index range
    # Swapped repeats: the unit repeated, and the one annotator it is reserved for.
    repeat_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="repeats")
    reserved_for = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="reserved_units"
    )

    class Meta:
        indexes = [
            models.Index(fields=["study", "n_taken", "rand"], name="unit_pool_fewest"),
            models.Index(fields=["study", "rand"], name="unit_pool_random"),
        ]

    def __str__(self) -> str:
        return f"unit {self.pk} of item {self.item_id}"


class Assignment(models.Model):
    """An annotator's lease on a unit, with the strategy and propensity that chose it."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        SUBMITTED = "submitted"
        EXPIRED = "expired"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="assignments")
    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="assignments")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    strategy = models.CharField(max_length=50)
    propensity = models.FloatField()
    display_order = models.JSONField()  # candidate ids, left to right / top to bottom
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # Nobody gets the same unit twice, whatever the concurrency.
            models.UniqueConstraint(fields=["unit", "annotator"], name="one_assignment_per_unit_and_annotator"),
        ]
        indexes = [
            models.Index(fields=["study", "status", "expires_at"], name="assignment_expiry"),
            models.Index(fields=["annotator", "study", "status"], name="assignment_held"),
        ]


class Annotation(models.Model):
    """A submitted response. Immutable: an edit is a new revision that supersedes it."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="annotations")
    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="annotations")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="annotations")
    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="annotations")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="annotations")
    response = models.JSONField()
    display_order = models.JSONField()
    strategy = models.CharField(max_length=50)
    propensity = models.FloatField()
    idempotency_key = models.CharField(max_length=64)
    revision = models.PositiveIntegerField(default=1)
    supersedes = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by")
    shown_at = models.DateTimeField()  # when the unit was handed out
    submitted_at = models.DateTimeField(auto_now_add=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)  # time on the unit, per the client
    qc_passed = models.BooleanField(null=True, blank=True)  # for gold and attention units only

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["annotator", "idempotency_key"], name="one_annotation_per_idempotency_key"),
            models.UniqueConstraint(fields=["assignment", "revision"], name="one_revision_number_per_assignment"),
        ]
        indexes = [models.Index(fields=["study", "unit"], name="annotation_by_unit")]

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.pop("_allow_update", False):
            raise ValueError("annotations are immutable; create a new revision instead")
        super().save(*args, **kwargs)
