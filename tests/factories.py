"""Small builders for tests: a researcher, a study with items, annotators."""

from __future__ import annotations

import json

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from annotation.models import Study, StudyMembership
from annotation.services import items_import, study_create

PASSWORD = "correct-horse-9"


def make_user(username: str, *, researcher: bool = False):
    user = get_user_model().objects.create_user(username=username, password=PASSWORD)
    if researcher:
        user.user_permissions.add(Permission.objects.get(codename="add_study"))
    return user


def pairwise_items(n: int, *, systems=("sys-a", "sys-b"), prefix: str = "it") -> list[dict]:
    return [
        {
            "id": f"{prefix}-{i}",
            "prompt": f"Prompt number {i}",
            "candidates": [{"system": s, "text": f"{s} answer to {i}", "judges": {"len": float(len(s) + i)}} for s in systems],
        }
        for i in range(n)
    ]


def make_study(owner, *, slug: str = "s1", items: int = 4, redundancy: int = 2, strategy: str = "uniform",
               task_config: dict | None = None, status: str = "live", systems=("sys-a", "sys-b"), **spec) -> Study:
    study = study_create(
        owner=owner,
        spec={
            "slug": slug,
            "name": f"Study {slug}",
            "task_type": spec.pop("task_type", "pairwise"),
            "task_config": task_config or {},
            "redundancy": redundancy,
            "strategy": {"name": strategy},
            "status": status,
            **spec,
        },
    )
    if items:
        items_import(study=study, lines=[json.dumps(i) for i in pairwise_items(items, systems=systems)])
    return study


def add_annotator(study: Study, username: str):
    user = make_user(username)
    StudyMembership.objects.create(study=study, user=user, role=StudyMembership.Role.ANNOTATOR)
    return user
