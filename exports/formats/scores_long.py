"""`scores-long`: one row per (item, system, annotator, aspect) score, for any meta-evaluation.

Rows come from AnnotationRow.records.scores: Likert ratings (aspect = the Likert aspect), MQM
(aspect "mqm" = -penalty, "esa" = the 0-100 score), rubric (one aspect per criterion and
"rubric" = the weighted total). Only each annotator's latest revision of a unit is written.

Pairwise outcomes are not scores of a candidate (a win means nothing without the opponent),
so by default (`pairwise: "skip"`) they are left out and counted; use `pairwise-judgments`
for them. `pairwise: "points"` writes them anyway as 1 for the winner, 0 for the loser,
0.5 each for a tie and 0 each for "both bad", on aspect "pairwise" (or "pairwise:<aspect>"),
so that a mean over rows is a win rate with ties counted half.

Options: `file_format` "csv" (default) or "parquet"; `row_group_size` rows per Parquet row
group (the writer holds at most one group in memory).
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import groupby
from pathlib import Path
from typing import Any

from exports.formats.base import AnnotationRow, ExportContext, Exporter, ExportSummary, FileSchema, FormatError
from exports.formats.mqm_tsv import latest_revisions
from exports.formats.registry import register_exporter

COLUMNS = {
    "item_id": "the item's id",
    "system": "system that produced the scored candidate",
    "annotator": "pseudonymous annotator id",
    "aspect": "what was scored: a Likert aspect, mqm, esa, a rubric criterion id, rubric, or pairwise",
    "score": "the score, higher is better (mqm is the negated error penalty)",
    "doc_id": "document id",
    "seg_id": "segment id",
    "candidate_id": "the candidate's internal id",
    "annotation_id": "the judgment's id",
    "revision": "the judgment's revision (latest only)",
}
FIELDS = list(COLUMNS)
POINTS = {"a": (1.0, 0.0), "b": (0.0, 1.0), "tie": (0.5, 0.5), "both_bad": (0.0, 0.0)}


def _pyarrow_schema():
    import pyarrow as pa

    return pa.schema(
        [
            ("item_id", pa.string()),
            ("system", pa.string()),
            ("annotator", pa.string()),
            ("aspect", pa.string()),
            ("score", pa.float64()),
            ("doc_id", pa.string()),
            ("seg_id", pa.string()),
            ("candidate_id", pa.int64()),
            ("annotation_id", pa.int64()),
            ("revision", pa.int32()),
        ]
    )


@register_exporter
class ScoresLong(Exporter):
    name = "scores-long"
    label = "Scores, one row per item, system, annotator and aspect (CSV or Parquet)"
    option_defaults = {"file_format": "csv", "pairwise": "skip", "row_group_size": 50_000}

    def parse_options(self, raw):
        options = super().parse_options(raw)
        if options["file_format"] not in ("csv", "parquet"):
            raise FormatError(None, "options.file_format", 'must be "csv" or "parquet"')
        if options["pairwise"] not in ("skip", "points"):
            raise FormatError(None, "options.pairwise", 'must be "skip" or "points"')
        size = options["row_group_size"]
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 1_000_000:
            raise FormatError(None, "options.row_group_size", "must be a whole number from 1 to 1000000")
        return options

    def records(self, rows: Iterable[AnnotationRow], pairwise: str, counts: Counter) -> Iterator[dict[str, Any]]:
        for _, unit_rows in groupby(rows, key=lambda r: r.unit_id):
            for row in latest_revisions(list(unit_rows)):
                counts["judgments"] += 1
                base = {"item_id": row.item_id, "annotator": row.annotator, "doc_id": row.doc_id, "seg_id": row.seg_id,
                        "annotation_id": row.annotation_id, "revision": row.revision}
                for score in row.records.scores:
                    yield {**base, "system": row.candidate(score.candidate_id).system, "aspect": score.aspect,
                           "score": float(score.score), "candidate_id": score.candidate_id}
                for pair in row.records.pairs:
                    if pairwise == "skip":
                        counts["pairwise_records_skipped"] += 1
                        continue
                    aspect = f"pairwise:{pair.aspect}" if pair.aspect else "pairwise"
                    for cid, points in zip((pair.a, pair.b), POINTS[pair.outcome]):
                        yield {**base, "system": row.candidate(cid).system, "aspect": aspect, "score": points, "candidate_id": cid}

    def write(self, rows: Iterable[AnnotationRow], out_dir: Path, ctx: ExportContext) -> ExportSummary:
        options = self.parse_options(ctx.options)
        counts: Counter = Counter(judgments=0, rows=0, pairwise_records_skipped=0)
        records = self.records(rows, options["pairwise"], counts)
        if options["file_format"] == "csv":
            path = "scores_long.csv"
            with (out_dir / path).open("w", encoding="utf-8", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=FIELDS, lineterminator="\n")
                writer.writeheader()
                for record in records:
                    writer.writerow({**record, "score": repr(record["score"])})
                    counts["rows"] += 1
        else:
            path = "scores_long.parquet"
            counts["rows"] = self._write_parquet(records, out_dir / path, options["row_group_size"])
        notes = []
        if counts["pairwise_records_skipped"]:
            notes.append('Pairwise outcomes are not candidate scores and were left out (option pairwise: "points" writes 1/0/0.5).')
        return ExportSummary(files=[FileSchema(path, COLUMNS, rows=counts["rows"])], counts=dict(counts), notes=notes)

    @staticmethod
    def _write_parquet(records: Iterator[dict[str, Any]], path: Path, group: int) -> int:
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = _pyarrow_schema()
        written = 0
        batch: dict[str, list] = {name: [] for name in FIELDS}
        with pq.ParquetWriter(path, schema) as writer:

            def flush() -> None:
                writer.write_table(pa.table(batch, schema=schema), row_group_size=group)
                for values in batch.values():
                    values.clear()

            for record in records:
                for name in FIELDS:
                    batch[name].append(record[name])
                written += 1
                if written % group == 0:
                    flush()
            if batch["item_id"] or written == 0:
                flush()
        return written
