"""Quality control: gold units, attention checks and swapped repeats mixed into the stream,
their scoring, and automatic exclusion of annotators who fail checks. Never visible to the
annotator: a check unit is served and rendered exactly like any other unit."""

from __future__ import annotations

import math
import random
from datetime import timedelta

import numpy as np
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from annotation.models import (
    Annotation,
    Assignment,
    Candidate,
    Study,
    StudyMembership,
    Unit,
)
from annotation.task_types import CandidateView, UnitContent, get_task_type

ATTENTION_SYSTEM = "__attention-check__"


def check_lease(*, study: Study, user, rng: np.random.Generator, lease: timedelta, finishing: bool = False) -> Assignment | None:
    """The lease service's hook, called with the annotator's membership row locked: before a
    regular unit is chosen, a quality-control unit (swapped repeat, gold unit, attention
    check) to lease instead, or None; with ``finishing`` (no regular unit is left for this
    annotator) only the repeats still owed, whatever the gap. No query unless the study
    has a gold, attention or repeat rate."""
    quality = study.quality
    share = float(quality.get("repeat_share", 0) or 0)
    picked = _repeat_due(study, user, share, rng, finishing) if share > 0 else None
    if picked is None and not finishing and (quality.get("gold_rate") or quality.get("attention_rate")):
        check = qc_unit_for(study, user, rng)
        if check is not None:
            from elicitation.services import (
                _display_order,  # the regular units' display rule
            )

            unit, rate = check
            picked = (unit, rate, _display_order(study, list(unit.candidate_ids), rng))
    if picked is None:
        return None
    unit, propensity, order = picked
    Unit.objects.filter(pk=unit.pk).update(n_taken=F("n_taken") + 1)  # returned by lease expiry like any lease
    try:
        with transaction.atomic():
            assignment = Assignment.objects.create(
                study=study, unit=unit, annotator=user, strategy=unit.kind, propensity=propensity,
                display_order=order, expires_at=timezone.now() + lease,
            )
    except IntegrityError:  # held before: serve a regular unit instead
        Unit.objects.filter(pk=unit.pk).update(n_taken=F("n_taken") - 1)
        return None
    return Assignment.objects.select_related("study", "unit__item").get(pk=assignment.pk)


def _repeat_due(study: Study, user, share: float, rng: np.random.Generator, finishing: bool) -> tuple[Unit, float, list[int]] | None:
    """A swapped repeat owed to this annotator: while their repeats number fewer than
    ``share`` x their regular judgments, one of the pairs they judged at least
    ``repeat_gap`` units ago (at random), as a new unit reserved for them and shown in the
    mirror of the order they saw. Repeats stay out of the pool, the quota and exports."""
    mine = Assignment.objects.filter(study=study, annotator=user, status=Assignment.Status.SUBMITTED)
    repeats = Unit.objects.filter(study=study, kind=Unit.Kind.REPEAT, reserved_for=user)
    judged = mine.filter(unit__kind=Unit.Kind.REGULAR)
    if repeats.count() >= math.floor(share * judged.count() + 1e-9):
        return None
    eligible = judged.exclude(unit_id__in=repeats.values("repeat_of_id"))
    if not finishing:
        gap = int(study.quality.get("repeat_gap", 5) or 1)
        recent = list(mine.order_by("-submitted_at", "-id").values_list("unit_id", flat=True)[:gap])
        eligible = eligible.exclude(unit_id__in=recent)
    n = eligible.count()
    if n == 0:
        return None
    unit_id, item_id, candidate_ids, shown = eligible.order_by("id").values_list(
        "unit_id", "unit__item_id", "unit__candidate_ids", "display_order"
    )[int(rng.integers(n))]
    unit = Unit.objects.create(
        study=study, item_id=item_id, candidate_ids=list(candidate_ids), kind=Unit.Kind.REPEAT,
        repeat_of_id=unit_id, reserved_for=user, rand=random.random(),
    )
    return unit, share, [int(c) for c in reversed(shown)]


def qc_unit_for(study: Study, user, rng: np.random.Generator) -> tuple[Unit, float] | None:
    """With the study's gold and attention rates, a check unit to serve instead of a regular
    one (and the probability of serving a check at all), or None."""
    gold_rate = float(study.quality.get("gold_rate", 0) or 0)
    attention_rate = float(study.quality.get("attention_rate", 0) or 0)
    draw = rng.random()
    if draw < gold_rate:
        unit = (
            Unit.objects.filter(study=study, kind=Unit.Kind.GOLD)
            .exclude(assignments__annotator=user)
            .order_by("rand")
            .first()
        )
        if unit is not None:
            return unit, gold_rate
    elif draw < gold_rate + attention_rate:
        unit = _attention_unit(study, user, rng)
        if unit is not None:
            return unit, attention_rate
    return None


def _attention_unit(study: Study, user, rng: np.random.Generator) -> Unit | None:
    """Build (or reuse) an attention check from a random regular unit this annotator has not
    seen: one real candidate against a garbled copy of it."""
    task_type = get_task_type(study.task_type)
    start = random.random()
    base = Unit.objects.filter(study=study, kind=Unit.Kind.REGULAR).exclude(item__units__assignments__annotator=user)
    source = base.filter(rand__gte=start).order_by("rand").first() or base.order_by("rand").first()
    if source is None:
        return None
    existing = Unit.objects.filter(study=study, kind=Unit.Kind.ATTENTION, item_id=source.item_id).first()
    if existing is not None:
        return existing
    candidates = {c.id: c for c in Candidate.objects.filter(id__in=source.candidate_ids)}
    content = UnitContent(
        item_id=source.item_id,
        candidates=tuple(CandidateView(cid, candidates[cid].system, candidates[cid].text) for cid in source.candidate_ids),
    )
    check = task_type.attention_check(study.task_config, content, rng)
    if check is None:
        return None
    degraded, _ = Candidate.objects.get_or_create(
        item_id=source.item_id, system=ATTENTION_SYSTEM, defaults={"text": check.degraded_text, "position": 999}
    )
    ids = [degraded.id if cid == check.replace_id else cid for cid in source.candidate_ids]
    return Unit.objects.create(
        study=study, item_id=source.item_id, candidate_ids=ids, kind=Unit.Kind.ATTENTION, gold=dict(check.expected), rand=random.random()
    )


def qc_record(*, study: Study, unit: Unit, user, response: dict) -> bool | None:
    """Score a response to a check unit, update the annotator's record and exclude below the
    study's threshold. Returns whether it passed (None for a regular unit)."""
    if unit.kind == Unit.Kind.REGULAR or unit.gold is None:
        return None
    passed = get_task_type(study.task_type).gold_passes(study.task_config, unit.gold, response)
    field = "qc_passed" if passed else "qc_failed"
    StudyMembership.objects.filter(study=study, user=user).update(**{field: F(field) + 1})
    membership = StudyMembership.objects.get(study=study, user=user)
    min_rate = float(study.quality.get("min_pass_rate", 0) or 0)
    checks = membership.qc_passed + membership.qc_failed
    if min_rate > 0 and checks >= int(study.quality.get("min_checks", 3)) and membership.pass_rate < min_rate and not membership.excluded:
        membership.excluded = True
        membership.excluded_reason = f"passed {membership.qc_passed} of {checks} checks, below {min_rate:.0%}"
        membership.save(update_fields=["excluded", "excluded_reason"])
    return passed


def crowd_status(study: Study, user) -> dict:
    """Whether a crowd worker has earned the completion code: quota done (or nothing left)
    and not excluded by the checks."""
    membership = StudyMembership.objects.filter(study=study, user=user).first()
    done = Annotation.objects.filter(study=study, annotator=user, unit__kind=Unit.Kind.REGULAR).count()
    quota = int(study.crowd.get("quota", 0) or 0)
    return {
        "done": done,
        "quota": quota,
        "excluded": bool(membership and membership.excluded),
        "pass_rate": membership.pass_rate if membership else None,
    }
