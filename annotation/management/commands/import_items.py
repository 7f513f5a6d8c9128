import json

from django.core.management.base import BaseCommand, CommandError

from annotation.errors import Invalid
from annotation.models import Study
from annotation.services import items_import, judgments_import
from exports.formats import all_importers, all_judgment_importers, get_importer


class Command(BaseCommand):
    help = (
        "Import items into a study, all or nothing. Formats that carry judgments (mqm-tsv) import "
        "them too: as annotations by pseudonymous raters (default) or as gold answers. Judgment "
        "formats (pairwise-labels, pairwise-judgments, scores-long) add annotations to items "
        "already in the study."
    )

    def add_arguments(self, parser):
        parser.add_argument("study", help="study slug")
        parser.add_argument("file", help="path of the items file")
        parser.add_argument("--format", default="jsonl", help=f"one of: {', '.join(sorted({*all_importers(), *all_judgment_importers()}))}")
        parser.add_argument("--judgments", choices=["annotations", "gold", "none"], default="annotations",
                            help="for formats with judgments: store them as annotations, as gold, or not at all")
        parser.add_argument("--options", default="{}", help='importer options as JSON, e.g. \'{"unclosed_span": "to_end"}\'')

    def handle(self, *args, **opts):
        study = Study.objects.filter(slug=opts["study"]).first()
        if study is None:
            raise CommandError(f"no study with slug {opts['study']!r}")
        try:
            options = json.loads(opts["options"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"--options is not valid JSON: {exc}") from None
        try:
            importer = all_judgment_importers().get(opts["format"]) or get_importer(opts["format"])
            judged = (hasattr(importer, "parse_segments") and opts["judgments"] != "none") or hasattr(importer, "parse_judgments")
        except KeyError as exc:
            raise CommandError(str(exc.args[0])) from None
        try:
            with open(opts["file"], encoding="utf-8", newline="") as fh:
                if judged:
                    result = judgments_import(study=study, lines=fh, format_name=opts["format"], mode=opts["judgments"], options=options)
                else:
                    result = items_import(study=study, lines=fh, format_name=opts["format"])
        except OSError as exc:
            raise CommandError(f"cannot read {opts['file']}: {exc.strerror}") from None
        except Invalid as exc:
            raise CommandError(f"{opts['file']}: {exc.message}") from None
        self.stdout.write(f"Imported into {study.slug}: " + ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in result.items()))
