from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.errors import Invalid
from annotation.models import Study
from annotation.services import items_import
from exports.services import open_text


class Command(BaseCommand):
    help = (
        "Import existing preference pairs (TRL JSONL: prompt/chosen/rejected, or hh-rlhf transcripts whose prompt is "
        "the shared prefix) as items to re-annotate, all or nothing. The original label is kept in each item's meta."
    )

    def add_arguments(self, parser):
        parser.add_argument("study", help="study slug (a pairwise study)")
        parser.add_argument("file", help="JSONL, or JSONL.gz as the hh-rlhf repository ships it")
        parser.add_argument("--chat", action="store_true", help="turn transcript prompts into chat messages (hh-rlhf importer)")

    def handle(self, *args, **opts):
        study = Study.objects.filter(slug=opts["study"]).first()
        if study is None:
            raise CommandError(f"no study with slug {opts['study']!r}")
        path = Path(opts["file"])
        try:
            with open_text(path) as fh:
                result = items_import(study=study, lines=fh, format_name="hh-rlhf" if opts["chat"] else "trl-preference")
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
        except Invalid as exc:
            raise CommandError(f"{path}: {exc.message}") from None
        self.stdout.write(f"Imported {result['items']} pairs into {study.slug} ({result['units_in_study']} units in the study)")
