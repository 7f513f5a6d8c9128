import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.errors import Invalid
from annotation.models import Study
from exports.formats import all_exporters
from exports.services import export_to_folder


class Command(BaseCommand):
    help = "Export a study's judgments into a folder (data files + dataset card README.md)."

    def add_arguments(self, parser):
        parser.add_argument("study", help="study slug")
        parser.add_argument("--format", required=True, help=f"one of: {', '.join(sorted(all_exporters()))}")
        parser.add_argument("--output", required=True, help="folder to create")
        parser.add_argument("--options", default="{}", help='format options as JSON, e.g. \'{"aggregate": "majority"}\'')

    def handle(self, *args, **opts):
        study = Study.objects.filter(slug=opts["study"]).first()
        if study is None:
            raise CommandError(f"no study with slug {opts['study']!r}")
        out = Path(opts["output"])
        if out.exists() and any(out.iterdir()):
            raise CommandError(f"{out} exists and is not empty")
        if out.exists():
            out.rmdir()
        try:
            options = json.loads(opts["options"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"--options is not valid JSON: {exc}") from None
        try:
            counts = export_to_folder(study=study, format_name=opts["format"], options=options, out_dir=out)
        except Invalid as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Wrote {out} ({', '.join(f'{k}: {v}' for k, v in sorted(counts.items()))})")
