"""Who may do what in a study. One place, used by the API and the pages."""

from __future__ import annotations

from annotation.models import Study, StudyMembership


def role_in(user, study: Study) -> str | None:
    """"owner", "researcher", "annotator" or None."""
    if not user.is_authenticated:
        return None
    if study.owner_id == user.id:
        return "owner"
    role = StudyMembership.objects.filter(study=study, user=user).values_list("role", flat=True).first()
    if role is None and user.is_superuser:
        return "researcher"
    return role


def can_manage(user, study: Study) -> bool:
    return role_in(user, study) in ("owner", "researcher")


def can_annotate(user, study: Study) -> bool:
    return role_in(user, study) == "annotator"


def can_create_studies(user) -> bool:
    return user.is_authenticated and (user.is_staff or user.has_perm("annotation.add_study"))
