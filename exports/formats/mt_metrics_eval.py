"""`mt-metrics-eval`: human scores and MQM ratings in the file layout of
google-research/mt-metrics-eval (MTME), so that metrics can be meta-evaluated against them.
Studies that score candidates (likert, mqm, rubric); a pairwise study has no scores.

Written under the export folder, with P = "{lp}." when the `lp` option is set (MTME names
files SRC-TGT.NAME.LEVEL.score), else empty:

    human-scores/P{name}.seg.score     blocks per system (systems sorted), each block one
                                       line per segment in segment order: "SYSTEM\tSCORE"
    human-scores/P{name}.doc.score     blocks per system, one line per document in document
                                       order: "SYSTEM\tSCORE" (mean of its segments' scores)
    human-scores/P{name}.sys.score     one line per system: "SYSTEM\tSCORE" (mean over the
                                       system's scored segments)
    human-scores/P{name}.domain.score  only when items carry meta["domain"]: one line per
                                       domain and system: "DOMAIN\tSYSTEM\tSCORE"
    human-scores/P{name}.{rater}.seg.rating
    human-scores/P{name}.merged.seg.rating
                                       MQM studies: blocks per system (sorted), one line per
                                       segment: "SYSTEM\t{"errors": [...]}\tRATER", or
                                       "SYSTEM\tNone" when not rated (MTME ratings.py). Each
                                       error: start, end (code points, end exclusive; -1/-1
                                       for a whole-segment error), category, severity,
                                       score (its weight under the study's weights) and
                                       is_source_error. "merged" (one file) when every
                                       (system, segment) has at most one rater, as in WMT;
                                       else one file per rater (option ratings).
    documents/{lp or name}.docs        one line per segment: "DOMAIN DOCNAME" (MTME)
    segments.tsv                       line number -> item: index, item_id, doc, seg_id, domain
    scores.tsv                         the seg-level scores as one table (system, index, item_id,
                                       doc, seg_id, domain, score): what `datasets` loads, since
                                       it cannot read MTME's own file names

A missing score is the string None, as MTME expects of human scores. The segment score is the
mean over annotators (each annotator's latest revision) of the Score records of one aspect
(option `aspect`, default = `name`: "mqm" is the negated MQM penalty, higher is better, as in
MTME's mqm files). Segment order: documents in order of first appearance in the export stream
(which follows the import order), segments in order of first appearance within their
document, so that documents are contiguous blocks as MTME requires.

The layout needs every system x segment in a fixed order while judgments stream in unit
order; the exporter therefore spools numbers and rating JSON into a temporary SQLite file
and writes from it, so memory stays flat. Sources and system outputs (MTME's sources/ and
system-outputs/ folders) are not written.
"""

from __future__ import annotations

import json
import re
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from annotation.task_types.base import ConfigError
from annotation.task_types.mqm import Mqm, error_weight
from exports.formats.base import AnnotationRow, ExportContext, Exporter, ExportSummary, FileSchema, FormatError
from exports.formats.registry import register_exporter

NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
LP_RE = re.compile(r"^[a-z]{2,3}(_[A-Za-z]+)?-[a-z]{2,3}(_[A-Za-z]+)?$")
DEFAULT_DOMAIN = "default"

SCHEMA = """
CREATE TABLE items (item_id TEXT PRIMARY KEY, seq INTEGER, doc TEXT, seg_id TEXT, domain TEXT);
CREATE TABLE docs (doc TEXT PRIMARY KEY, seq INTEGER, domain TEXT);
CREATE TABLE systems (system TEXT PRIMARY KEY);
CREATE TABLE scores (item_id TEXT, system TEXT, annotator TEXT, revision INTEGER, annotation_id INTEGER, score REAL);
CREATE TABLE ratings (item_id TEXT, system TEXT, annotator TEXT, revision INTEGER, annotation_id INTEGER, json TEXT);
"""
LATEST = """
CREATE TABLE {table}_latest AS
SELECT * FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY item_id, system, annotator ORDER BY revision DESC, annotation_id DESC) AS rn
  FROM {table}
) WHERE rn = 1;
"""
# every (system, segment) cell in file order: systems sorted, then segments in order
CELLS = """
SELECT s.system, {columns} FROM systems s CROSS JOIN items i JOIN docs d ON d.doc = i.doc
LEFT JOIN {table} t ON t.item_id = i.item_id AND t.system = s.system{cond}
ORDER BY s.system, d.seq, i.seq
"""


def fmt(value: float | None) -> str:
    if value is None:
        return "None"
    value = round(float(value), 10)
    return repr(value + 0.0 if value else 0.0)  # no "-0.0"


@register_exporter
class MtMetricsEval(Exporter):
    name = "mt-metrics-eval"
    label = "Human scores and MQM ratings in the google-research/mt-metrics-eval layout"
    task_types = ("likert", "mqm", "rubric")  # scores of candidates: a pairwise study has none
    option_defaults = {"name": "mqm", "aspect": None, "lp": "", "ratings": "auto"}

    def parse_options(self, raw):
        options = super().parse_options(raw)
        if not isinstance(options["name"], str) or not NAME_RE.match(options["name"]):
            raise FormatError(None, "options.name", "must be letters, digits, '-' or '_' (it becomes part of file names)")
        if options["aspect"] is None:
            options["aspect"] = options["name"]
        if not isinstance(options["aspect"], str) or not options["aspect"]:
            raise FormatError(None, "options.aspect", "must be the name of a scored aspect (e.g. mqm, esa, overall, rubric)")
        if options["lp"] and (not isinstance(options["lp"], str) or not LP_RE.match(options["lp"])):
            raise FormatError(None, "options.lp", "must be a language pair such as en-de, or empty")
        if options["ratings"] not in ("auto", "per-rater", "none"):
            raise FormatError(None, "options.ratings", 'must be "auto", "per-rater" or "none"')
        return options

    def write(self, rows: Iterable[AnnotationRow], out_dir: Path, ctx: ExportContext) -> ExportSummary:
        options = self.parse_options(ctx.options)
        mqm_config = None
        if ctx.spec.get("task_type") == "mqm":
            try:
                mqm_config = Mqm().parse_config(ctx.spec.get("task_config") or {})
            except ConfigError as exc:
                raise FormatError(None, f"spec.{exc.field}", exc.message) from None
        counts: Counter = Counter(judgments_read=0, scores=0, ratings=0)
        with tempfile.TemporaryDirectory(prefix="mtme-") as tmp:
            db = sqlite3.connect(Path(tmp) / "spool.sqlite3")
            try:
                db.executescript(SCHEMA)
                self._spool(db, rows, options["aspect"], mqm_config, counts)
                files = self._write_files(db, out_dir, options, counts)
            finally:
                db.close()
        notes = []
        if counts["scores"] == 0:
            notes.append(f"No scores on aspect {options['aspect']!r}: every score file holds None only.")
        if counts["ratings_not_merged"]:
            notes.append("Some segments have several raters, so ratings are written one file per rater (no merged file).")
        return ExportSummary(files=files, counts=dict(counts), notes=notes)

    # -- spooling ----------------------------------------------------------------------------

    def _spool(self, db: sqlite3.Connection, rows: Iterable[AnnotationRow], aspect: str, mqm_config, counts: Counter) -> None:
        item_seq = doc_seq = 0
        systems: set[str] = set()  # bounded by the number of systems
        for row in rows:
            counts["judgments_read"] += 1
            doc = row.doc_id or row.item_id
            domain = (row.meta or {}).get("domain")
            domain = domain if isinstance(domain, str) and domain.strip() else DEFAULT_DOMAIN
            if db.execute("INSERT OR IGNORE INTO docs VALUES (?, ?, ?)", (doc, doc_seq, domain)).rowcount:
                doc_seq += 1
            if db.execute(
                "INSERT OR IGNORE INTO items VALUES (?, ?, ?, ?, ?)", (row.item_id, item_seq, doc, row.seg_id, domain)
            ).rowcount:
                item_seq += 1
            for candidate in row.candidates:
                if candidate.system not in systems:
                    if not candidate.system or any(ch.isspace() for ch in candidate.system):
                        raise FormatError(None, "system", f"system name {candidate.system!r} is empty or contains whitespace, which mt-metrics-eval cannot read")
                    systems.add(candidate.system)
                    db.execute("INSERT OR IGNORE INTO systems VALUES (?)", (candidate.system,))
            key = (row.annotator, row.revision, row.annotation_id)
            for score in row.records.scores:
                if score.aspect == aspect:
                    db.execute(
                        "INSERT INTO scores VALUES (?, ?, ?, ?, ?, ?)",
                        (row.item_id, row.candidate(score.candidate_id).system, *key, float(score.score)),
                    )
                    counts["scores"] += 1
            response = row.response or {}
            if mqm_config is not None and "errors" in response and len(row.candidates) == 1:
                db.execute(
                    "INSERT INTO ratings VALUES (?, ?, ?, ?, ?, ?)",
                    (row.item_id, row.candidates[0].system, *key, json.dumps(self._rating(mqm_config, response))),
                )
                counts["ratings"] += 1
        db.commit()

    @staticmethod
    def _rating(config: Mapping[str, Any], response: Mapping[str, Any]) -> dict[str, Any]:
        errors = []
        for error in response["errors"]:
            whole = not (error.get("end") or 0) > (error.get("start") or 0)
            errors.append(
                {
                    "start": -1 if whole else error["start"],
                    "end": -1 if whole else error["end"],
                    "category": error["category"],
                    "severity": error["severity"],
                    "score": error_weight(config, error["severity"], error["category"]),
                    "is_source_error": error.get("side") == "source",
                }
            )
        return {"errors": errors}

    # -- writing -----------------------------------------------------------------------------

    def _write_files(self, db: sqlite3.Connection, out_dir: Path, options: Mapping[str, Any], counts: Counter) -> list[FileSchema]:
        name, lp = options["name"], options["lp"]
        prefix = f"{lp}." if lp else ""
        (out_dir / "human-scores").mkdir()
        (out_dir / "documents").mkdir()
        db.executescript(LATEST.format(table="scores") + LATEST.format(table="ratings"))
        n_items = db.execute("SELECT COUNT(*) FROM items").fetchone()[0] or 1
        db.executescript(
            """
            CREATE TABLE seg AS SELECT item_id, system, AVG(score) AS score FROM scores_latest GROUP BY item_id, system;
            CREATE UNIQUE INDEX seg_key ON seg (item_id, system);
            CREATE INDEX ratings_key ON ratings_latest (annotator, item_id, system);
            """
        )
        files: list[FileSchema] = []

        def out(rel: str, lines: Iterable[str], columns: Mapping[str, str]) -> None:
            with (out_dir / rel).open("w", encoding="utf-8", newline="\n") as handle:
                for line in lines:
                    handle.write(line + "\n")
            # MTME's own file names (.score, .rating, .docs) are not a format `datasets` reads
            files.append(FileSchema(rel, columns, loadable=rel.endswith(".tsv")))

        # What `datasets.load_dataset(folder)` gives (the first configuration): the seg-level
        # scores as one table, a row per (system, segment), in the order of the .seg.score file.
        out(
            "scores.tsv",
            ["system\tindex\titem_id\tdoc\tseg_id\tdomain\tscore"]
            + [f"{system}\t{n % n_items + 1}\t{item}\t{doc}\t{seg}\t{dom}\t{'' if v is None else fmt(v)}" for n, (system, v, item, doc, seg, dom)
               in enumerate(db.execute(CELLS.format(columns="t.score, i.item_id, i.doc, i.seg_id, d.domain", table="seg", cond="")))],
            {"system": "system name", "index": "1-based line of the segment in segments.tsv and in every seg-level file",
             "item_id": "the item's id", "doc": "document", "seg_id": "the item's seg_id", "domain": "domain",
             "score": f"mean human score on aspect {options['aspect']!r} over annotators (latest revisions); empty when not scored"},
        )

        score_cols = {"SYSTEM": "system name", "SCORE": f"mean human score on aspect {options['aspect']!r}, or None"}
        out(
            f"human-scores/{prefix}{name}.seg.score",
            (f"{s}\t{fmt(v)}" for s, v in db.execute(CELLS.format(columns="t.score", table="seg", cond=""))),
            {**score_cols, "order": "blocks per system (sorted), segments in the order of segments.tsv"},
        )
        out(
            f"human-scores/{prefix}{name}.doc.score",
            (f"{s}\t{fmt(v)}" for s, v in db.execute(
                """SELECT s.system, AVG(g.score) FROM systems s CROSS JOIN docs d JOIN items i ON i.doc = d.doc
                   LEFT JOIN seg g ON g.item_id = i.item_id AND g.system = s.system
                   GROUP BY s.system, d.doc ORDER BY s.system, d.seq"""
            )),
            {**score_cols, "order": "blocks per system (sorted), documents in the order of the documents file"},
        )
        out(
            f"human-scores/{prefix}{name}.sys.score",
            (f"{s}\t{fmt(v)}" for s, v in db.execute(
                "SELECT s.system, AVG(g.score) FROM systems s LEFT JOIN seg g ON g.system = s.system GROUP BY s.system ORDER BY s.system"
            )),
            {**score_cols, "order": "one line per system (sorted)"},
        )
        if db.execute("SELECT 1 FROM items WHERE domain != ? LIMIT 1", (DEFAULT_DOMAIN,)).fetchone():
            out(
                f"human-scores/{prefix}{name}.domain.score",
                (f"{dom}\t{s}\t{fmt(v)}" for dom, s, v in db.execute(
                    """SELECT i.domain, s.system, AVG(g.score) FROM systems s CROSS JOIN items i
                       LEFT JOIN seg g ON g.item_id = i.item_id AND g.system = s.system
                       GROUP BY i.domain, s.system ORDER BY i.domain, s.system"""
                )),
                {"DOMAIN": "the items' meta.domain", **score_cols},
            )
        if options["ratings"] != "none" and counts["ratings"]:
            self._write_ratings(db, out, prefix, name, options["ratings"], counts)
        ordered = "SELECT d.domain, i.doc, i.item_id, i.seg_id FROM items i JOIN docs d ON d.doc = i.doc ORDER BY d.seq, i.seq"
        out(
            f"documents/{lp or name}.docs",
            (f"{dom} {doc}" for dom, doc, _, _ in db.execute(ordered)),
            {"DOMAIN": "the document's domain (meta.domain of its first item, else default)", "DOCNAME": "document id"},
        )
        out(
            "segments.tsv",
            ["index\titem_id\tdoc\tseg_id\tdomain"]
            + [f"{n}\t{item}\t{doc}\t{seg}\t{dom}" for n, (dom, doc, item, seg) in enumerate(db.execute(ordered), start=1)],
            {"index": "1-based line of the segment in every seg-level file", "item_id": "the item's id", "doc": "document",
             "seg_id": "the item's seg_id", "domain": "domain"},
        )
        return files

    def _write_ratings(self, db: sqlite3.Connection, out, prefix: str, name: str, mode: str, counts: Counter) -> None:
        columns = {"SYSTEM": "system name", "RATING": 'MTME Rating JSON {"errors": [...]}, or None', "RATER": "annotator id"}
        several = db.execute("SELECT 1 FROM ratings_latest GROUP BY item_id, system HAVING COUNT(*) > 1 LIMIT 1").fetchone()
        cells = CELLS.format(columns="t.json, t.annotator", table="ratings_latest", cond="{cond}")

        def lines(query: str, params: tuple = ()):
            for system, rating, rater in db.execute(query, params):
                yield f"{system}\tNone" if rating is None else f"{system}\t{rating}\t{rater}"

        if mode == "auto" and not several:
            out(f"human-scores/{prefix}{name}.merged.seg.rating", lines(cells.format(cond="")), columns)
            return
        if mode == "auto":
            counts["ratings_not_merged"] = 1
        raters = [r for (r,) in db.execute("SELECT DISTINCT annotator FROM ratings_latest ORDER BY annotator")]
        used: set[str] = set()
        for rater in raters:
            safe = re.sub(r"[^A-Za-z0-9_-]", "_", rater) or "rater"
            while safe in used:
                safe += "_"
            used.add(safe)
            out(
                f"human-scores/{prefix}{name}.{safe}.seg.rating",
                lines(cells.format(cond=" AND t.annotator = ?"), (rater,)),
                columns,
            )
