"""Reads: what pages and the API show. No writes here."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db.models import Count, Q, Sum

from annotation.models import Annotation, Assignment, Candidate, Study, StudyMembership, Unit
from annotation.task_types import CandidateView, UnitContent, get_task_type


def studies_for_user(user):
    """Studies a user may see: owned, or a member of (any role)."""
    if user.is_superuser:
        return Study.objects.all()
    return Study.objects.filter(Q(owner=user) | Q(memberships__user=user)).distinct()


def prompt_text(prompt) -> str:
    if isinstance(prompt, str):
        return prompt
    return "\n\n".join(f"{m['role']}: {m['content']}" for m in prompt)


def unit_content(assignment: Assignment) -> UnitContent:
    """The unit as shown to this annotator, for the task type to validate a response against."""
    item = assignment.unit.item
    candidates = {c.id: c for c in Candidate.objects.filter(id__in=assignment.display_order)}
    return UnitContent(
        item_id=item.id,
        candidates=tuple(CandidateView(cid, candidates[cid].system, candidates[cid].text) for cid in assignment.display_order),
        source=prompt_text(item.prompt),
        meta=item.meta,
    )


def unit_payload(assignment: Assignment) -> dict[str, Any]:
    """What the annotator app renders for a lease. Systems and judge scores stay hidden."""
    return unit_payloads([assignment])[0]


def unit_payloads(assignments: list[Assignment]) -> list[dict[str, Any]]:
    """unit_payload of several leases (the unit on screen and the one fetched in advance),
    with one query for all their texts and items."""
    ids = [cid for assignment in assignments for cid in assignment.display_order]
    candidates = {c.id: c for c in Candidate.objects.filter(id__in=ids).select_related("item")}
    out = []
    for assignment in assignments:
        item = candidates[assignment.display_order[0]].item
        study = assignment.study
        task_type = get_task_type(study.task_type)
        out.append({
            "assignment_id": assignment.id,
            "unit_id": assignment.unit_id,
            "expires_at": assignment.expires_at.isoformat(),
            "prompt": item.prompt,
            "reference": item.reference,
            "candidates": [{"id": cid, "text": candidates[cid].text} for cid in assignment.display_order],
            "task": {
                "type": study.task_type,
                "config": task_type.describe(study.task_config),
                **task_type.item_widget_data(study.task_config, item.meta),
            },
        })
    return out


def annotator_progress(study: Study, user, membership: StudyMembership | None = None) -> dict[str, int]:
    """What the annotator page shows: their judgments and the study's fill, from counters
    (no count over judgments or units)."""
    if membership is None:
        membership = StudyMembership.objects.filter(study=study, user=user).only("n_judged").first()
    return {"done": membership.n_judged if membership else 0, **study_fill(study)}


def study_fill(study: Study) -> dict[str, int]:
    """Judgments of regular units collected and wanted in the whole study: a sum over the
    annotators' counters (cached a second), never a scan of the units."""
    key = f"study-fill:{study.pk}"
    fill = cache.get(key)
    if fill is None:
        judged = StudyMembership.objects.filter(study=study).aggregate(n=Sum("n_regular"))["n"] or 0
        fill = {"study_judgments": judged, "study_target": study.n_units * study.redundancy}
        cache.set(key, fill, 1)
    return fill


def study_progress(study: Study) -> dict[str, Any]:
    units = Unit.objects.filter(study=study).aggregate(
        units=Count("id"),
        judgments=Sum("n_done"),
        complete=Count("id", filter=Q(n_done__gte=study.redundancy)),
        leased=Sum("n_taken") ,
    )
    judgments = units["judgments"] or 0
    target = units["units"] * study.redundancy
    per_annotator = list(
        Annotation.objects.filter(study=study)
        .values("annotator__username")
        .annotate(judgments=Count("id"))
        .order_by("-judgments", "annotator__username")
    )
    min_seconds = float(study.quality.get("min_seconds_per_unit", 0) or 0)
    speeding = {}
    if min_seconds > 0:
        speeding = dict(
            Annotation.objects.filter(study=study, duration_ms__lt=int(min_seconds * 1000))
            .values_list("annotator__username")
            .annotate(n=Count("id"))
        )
    return {
        "items": study.items.count(),
        "units": units["units"],
        "units_complete": units["complete"],
        "judgments": judgments,
        "judgments_target": target,
        "active_leases": (units["leased"] or 0) - judgments,
        "percent": round(100.0 * judgments / target, 1) if target else 0.0,
        "annotators": StudyMembership.objects.filter(study=study, role=StudyMembership.Role.ANNOTATOR).count(),
        "per_annotator": [
            {"annotator": row["annotator__username"], "judgments": row["judgments"], "speeding": speeding.get(row["annotator__username"], 0)}
            for row in per_annotator
        ],
    }
