"""Quality control: gold units and attention checks mixed into the stream, their scoring,
and automatic exclusion of annotators who fail them. Never visible to the annotator: a check
unit is served and rendered exactly like any other unit."""

from __future__ import annotations

import random

import numpy as np
from django.db.models import F

from annotation.models import Annotation, Candidate, Study, StudyMembership, Unit
from annotation.task_types import CandidateView, UnitContent, get_task_type

ATTENTION_SYSTEM = "__attention-check__"


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
