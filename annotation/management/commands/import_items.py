from django.core.management.base import BaseCommand, CommandError

from annotation.errors import Invalid
from annotation.models import Study
from annotation.services import items_import
from exports.formats import all_importers


class Command(BaseCommand):
    help = "Import items into a study, all or nothing."

    def add_arguments(self, parser):
        parser.add_argument("study", help="study slug")
        parser.add_argument("file", help="path of the items file")
        parser.add_argument("--format", default="jsonl", help=f"one of: {', '.join(sorted(all_importers()))}")

    def handle(self, *args, **opts):
        study = Study.objects.filter(slug=opts["study"]).first()
        if study is None:
            raise CommandError(f"no study with slug {opts['study']!r}")
        try:
            with open(opts["file"], encoding="utf-8", newline="") as fh:
                result = items_import(study=study, lines=fh, format_name=opts["format"])
        except OSError as exc:
            raise CommandError(f"cannot read {opts['file']}: {exc.strerror}") from None
        except Invalid as exc:
            raise CommandError(f"{opts['file']}: {exc.message}") from None
        self.stdout.write(f"Imported {result['items']} items into {study.slug} ({result['units_in_study']} units in the study)")
