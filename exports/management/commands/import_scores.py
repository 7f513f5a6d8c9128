from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.errors import Invalid
from annotation.models import Study
from exports.formats.judge_scores import SCORE_FORMATS
from exports.services import judge_scores_import, open_text


class Command(BaseCommand):
    help = ("Attach automatic judge scores (item_id, system, judge, score) to a study's candidates, all or nothing; "
            "a row without item_id is a system-level score (the judge's score of the whole system).")

    def add_arguments(self, parser):
        parser.add_argument("study", help="study slug")
        parser.add_argument("file", help="CSV with a header item_id,system,judge,score, or JSONL (one object a line); .gz is read too")
        parser.add_argument("--format", choices=SCORE_FORMATS, help="default: from the file's extension (.csv or .jsonl)")

    def handle(self, *args, **opts):
        study = Study.objects.filter(slug=opts["study"]).first()
        if study is None:
            raise CommandError(f"no study with slug {opts['study']!r}")
        path = Path(opts["file"])
        suffixes = [s.lstrip(".") for s in path.suffixes if s != ".gz"]
        format_name = opts["format"] or (suffixes[-1] if suffixes and suffixes[-1] in SCORE_FORMATS else None)
        if format_name is None:
            raise CommandError(f"cannot tell the format of {path.name}; pass --format {' or --format '.join(SCORE_FORMATS)}")
        try:
            with open_text(path) as fh:
                result = judge_scores_import(study=study, lines=fh, format_name=format_name)
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
        except Invalid as exc:
            raise CommandError(f"{path}: {exc.message}") from None
        self.stdout.write(f"Imported {result['scores']} scores into {study.slug} (judges: {', '.join(result['judges'])})")
