"""One export, start to finish, on a stream of rows: options checked, excluded judgments
dropped and counted, agreement and bias gathered on the way, the format's files written, and
the dataset card beside them. Pure (no Django): the services feed it rows from the database,
the golden tests feed it rows they build."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from exports.card import render_card
from exports.formats.base import AnnotationRow, ExportContext, Exporter, ExportSummary
from exports.formats.stats import StreamStats

DROPPED = ("qc_excluded_annotator_judgments", "excluded_annotator_judgments", "speeder_judgments", "qc_judgments")


def filter_rows(rows: Iterable[AnnotationRow], spec: Mapping[str, Any], options: Mapping[str, Any], counts: Counter) -> Iterator[AnnotationRow]:
    excluded = set(options.get("exclude_annotators") or ())
    min_ms = 1000 * float((spec.get("quality") or {}).get("min_seconds_per_unit") or 0) if options.get("exclude_speeders") else 0
    keep_qc = options.get("include_qc_units", False)
    keep_excluded = options.get("include_excluded_annotators", False)
    for row in rows:
        if row.annotator_excluded and not keep_excluded:
            counts["qc_excluded_annotator_judgments"] += 1
        elif row.annotator in excluded:
            counts["excluded_annotator_judgments"] += 1
        elif min_ms and row.duration_ms is not None and row.duration_ms < min_ms:
            counts["speeder_judgments"] += 1
        elif not keep_qc and row.unit_kind != "regular":
            counts["qc_judgments"] += 1
        else:
            yield row


def run_exporter(exporter: Exporter, rows: Iterable[AnnotationRow], out_dir: Path, spec: Mapping[str, Any],
                 options: Mapping[str, Any]) -> ExportSummary:
    """Write the data files and README.md into out_dir (which exists); return the summary."""
    clean = exporter.parse_options(options)
    dropped: Counter = Counter()
    stats = StreamStats()
    stream = stats.tap(filter_rows(rows, spec, clean, dropped))
    summary = exporter.write(stream, out_dir, ExportContext(spec=spec, options=clean))
    for _ in stream:  # an exporter may stop early; the figures still cover every row
        pass
    for key in DROPPED:
        summary.counts[key] = dropped[key]
    splits = {schema.split for schema in summary.files}
    if len(splits) > 1:
        for schema in summary.files:
            if schema.rows is not None:
                summary.counts[f"{schema.split}_rows"] = summary.counts.get(f"{schema.split}_rows", 0) + schema.rows
    summary.counts["annotators"] = len(stats.annotators)
    for key, value in (("judgments", stats.judgments), ("units", stats.units), ("items", stats.items)):
        summary.counts.setdefault(key, value)
    card = render_card(spec, exporter.name, summary, stats.figures(), clean)
    (out_dir / "README.md").write_text(card, encoding="utf-8")
    return summary
