import json

from django.core.management.base import BaseCommand, CommandError

from annotation.errors import Invalid
from annotation.models import Study
from annotation.report import report_text, study_report


class Command(BaseCommand):
    help = (
        "The analysis report of a study: progress, quality, agreement, ranking, bias, judge "
        "meta-evaluation and strategies; a short summary, or everything as JSON with --json."
    )

    def add_arguments(self, parser):
        parser.add_argument("study", help="study slug")
        parser.add_argument("--json", action="store_true", help="print the whole report as one JSON document")
        parser.add_argument("--compare", metavar="OTHER_STUDY",
                            help="slug of a study of the same owner with the other kind of task (pairwise vs scores) on the same items")
        parser.add_argument("--include-excluded", action="store_true", help="keep excluded annotators in the statistics")
        parser.add_argument("--n-boot", type=int, default=None, help="bootstrap replicates (default 200, fewer on big studies)")

    def handle(self, *args, **opts):
        study = Study.objects.filter(slug=opts["study"]).first()
        if study is None:
            raise CommandError(f"no study with slug {opts['study']!r}")
        compare = None
        if opts["compare"]:
            compare = Study.objects.filter(slug=opts["compare"]).first()
            if compare is None:
                raise CommandError(f"--compare: no study with slug {opts['compare']!r}")
        if opts["n_boot"] is not None and not 0 <= opts["n_boot"] <= 2000:
            raise CommandError("--n-boot: must be from 0 to 2000")
        try:
            report = study_report(study, include_excluded=opts["include_excluded"], compare=compare, n_boot=opts["n_boot"])
        except Invalid as exc:
            raise CommandError(exc.message) from None
        if opts["json"]:
            self.stdout.write(json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False))
        else:
            self.stdout.write(report_text(report), ending="")
