import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from annotation.errors import Invalid
from annotation.services import study_create


class Command(BaseCommand):
    help = "Create a study from a spec file (JSON, the study spec of DESIGN.md)."

    def add_arguments(self, parser):
        parser.add_argument("spec", help="path to SPEC.json")
        parser.add_argument("--owner", default=None, help="username of the owner (default: the first superuser)")

    def handle(self, *args, **opts):
        try:
            with open(opts["spec"], encoding="utf-8") as fh:
                spec = json.load(fh)
        except OSError as exc:
            raise CommandError(f"cannot read {opts['spec']}: {exc.strerror}") from None
        except json.JSONDecodeError as exc:
            raise CommandError(f"{opts['spec']} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
        users = get_user_model().objects
        owner = users.filter(username=opts["owner"]).first() if opts["owner"] else users.filter(is_superuser=True).order_by("id").first()
        if owner is None:
            raise CommandError(f"no user {opts['owner']!r}" if opts["owner"] else "no superuser: pass --owner USERNAME")
        try:
            study = study_create(owner=owner, spec=spec)
        except Invalid as exc:
            raise CommandError(f"{opts['spec']}: {exc.message}") from None
        self.stdout.write(f"Created study {study.slug} ({study.task_type}, {study.strategy}, {study.status}) owned by {owner.username}")
