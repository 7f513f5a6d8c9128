"""Load a demo: a researcher, an annotator and a live pairwise study on real data."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand
from django.db import transaction

from annotation.models import Study, StudyMembership
from annotation.services import items_import, membership_add, study_create

DATA = Path(__file__).resolve().parents[2] / "demo_data"
USERS = {"researcher": "researcher-pass", "annotator": "annotator-pass"}
STUDIES = [
    {
        "file": "pandalm_pairwise.jsonl",
        "spec": {
            "slug": "demo-pairwise",
            "name": "Which response follows the instruction better?",
            "task_type": "pairwise",
            "task_config": {"allow_tie": True, "allow_both_bad": True},
            "instructions": (
                "Read the instruction, then both responses.\n\n"
                "- Pick the response that follows the instruction **better** (keys `1` / `2`).\n"
                "- `T` if they are equally good, `X` if both are bad.\n"
                "- Judge content, not length."
            ),
            "redundancy": 3,
            "strategy": {"name": "balanced"},
            "quality": {"min_seconds_per_unit": 3},
            "status": "live",
        },
    },
]


class Command(BaseCommand):
    help = "Create demo users and studies (safe to run again)."

    def handle(self, *args, **opts):
        users = get_user_model().objects
        with transaction.atomic():
            created = {}
            for name, password in USERS.items():
                user, new = users.get_or_create(username=name)
                if new:
                    user.set_password(password)
                    user.save()
                created[name] = user
            created["researcher"].user_permissions.add(Permission.objects.get(codename="add_study"))
            for entry in STUDIES:
                study = Study.objects.filter(slug=entry["spec"]["slug"]).first()
                if study is None:
                    study = study_create(owner=created["researcher"], spec=entry["spec"])
                    with (DATA / entry["file"]).open(encoding="utf-8") as fh:
                        items_import(study=study, lines=fh)
                membership_add(study=study, user=created["annotator"], role=StudyMembership.Role.ANNOTATOR)
        self.stdout.write("Demo ready:")
        for name, password in USERS.items():
            self.stdout.write(f"  {name:<11} sign in as {name!r} with password {password!r}")
        for entry in STUDIES:
            study = Study.objects.get(slug=entry["spec"]["slug"])
            self.stdout.write(f"  study {study.slug}: {study.items.count()} items, invite link /join/{study.invite_token}/")
