"""Builders shared by the format tests: small studies as AnnotationRow streams, built through
the real task types, and golden-file comparison. (No tests here.)

Set TRENCHCOAT_UPDATE_GOLDEN=1 to rewrite the golden files from the current output, then
review the diff before committing it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from annotation.task_types import CandidateView, UnitContent, get_task_type
from exports.formats.base import AnnotationRow, CandidateRow, ExportContext

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
SHARED = Path(__file__).resolve().parents[3] / "shared"
WMT_TED = SHARED / "data" / "wmt-mqm-human-evaluation" / "mqm_ted_ende.tsv"
UPDATE = os.environ.get("TRENCHCOAT_UPDATE_GOLDEN") == "1"


@pytest.fixture(autouse=True)
def _export_root():  # pure tests: override tests/conftest.py's Django/Celery autouse fixtures
    yield


@pytest.fixture(autouse=True)
def _celery_in_process():
    yield


def real_file() -> Path:
    if not WMT_TED.is_file():
        pytest.skip(f"{WMT_TED} is absent (a fresh clone has no ../shared next to it); this test reads the real WMT file")
    return WMT_TED


def assert_matches_golden(actual: Path, golden: Path) -> None:
    """Byte-for-byte comparison with a golden file (rewritten when UPDATE is set)."""
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(actual.read_bytes())
    assert golden.is_file(), f"missing golden file {golden}; run with TRENCHCOAT_UPDATE_GOLDEN=1 and review it"
    assert actual.read_text(encoding="utf-8") == golden.read_text(encoding="utf-8"), f"{actual.name} differs from {golden}"


def assert_tree_matches_golden(out_dir: Path, golden_dir: Path) -> None:
    produced = sorted(p.relative_to(out_dir) for p in out_dir.rglob("*") if p.is_file())
    if UPDATE:
        for rel in produced:
            assert_matches_golden(out_dir / rel, golden_dir / rel)
    expected = sorted(p.relative_to(golden_dir) for p in golden_dir.rglob("*") if p.is_file())
    assert produced == expected
    for rel in produced:
        assert_matches_golden(out_dir / rel, golden_dir / rel)


class StudyBuilder:
    """Builds AnnotationRows the way exports/selectors.py does: the response validated by the
    task type against the unit shown, records from task_type.records()."""

    def __init__(self, task_type: str, task_config: Mapping[str, Any] | None = None):
        self.task_type = get_task_type(task_type)
        self.config = self.task_type.parse_config(task_config or {})
        self.spec = {"slug": "fixture", "name": "Fixture", "task_type": task_type, "task_config": self.config}
        self.items: dict[str, dict[str, Any]] = {}
        self.rows: list[AnnotationRow] = []
        self._ids = iter(range(1, 10**9))
        self._units: dict[tuple[str, tuple[int, ...]], int] = {}

    def ctx(self, **options: Any) -> ExportContext:
        return ExportContext(spec=self.spec, options=options)

    def item(self, item_id: str, prompt: Any, systems: Mapping[str, str], *, doc_id: str = "", seg_id: str = "",
             reference: str = "", meta: Mapping[str, Any] | None = None) -> dict[str, int]:
        candidates = {system: CandidateRow(next(self._ids), system, text) for system, text in systems.items()}
        self.items[item_id] = {"prompt": prompt, "candidates": candidates, "doc_id": doc_id, "seg_id": seg_id,
                               "reference": reference, "meta": dict(meta or {})}
        return {system: c.id for system, c in candidates.items()}

    def judge(self, item_id: str, systems: Iterable[str], annotator: str, response: Any, *, revision: int = 1) -> AnnotationRow:
        item = self.items[item_id]
        shown = tuple(item["candidates"][s] for s in systems)
        ids = tuple(c.id for c in shown)
        unit_key = (item_id, tuple(sorted(ids)))
        unit_id = self._units.setdefault(unit_key, 1000 + len(self._units))
        prompt = item["prompt"]
        source = prompt if isinstance(prompt, str) else "\n\n".join(f"{m['role']}: {m['content']}" for m in prompt)
        unit = UnitContent(item_id=0, candidates=tuple(CandidateView(c.id, c.system, c.text) for c in shown),
                           source=source, meta=item["meta"])
        clean = self.task_type.validate_response(self.config, unit, response)
        canonical = tuple(sorted(shown, key=lambda c: c.id))
        row = AnnotationRow(
            annotation_id=next(self._ids),
            unit_id=unit_id,
            item_id=item_id,
            prompt=prompt,
            candidates=canonical,
            display_order=ids,
            annotator=annotator,
            response=clean,
            records=self.task_type.records(self.config, [c.id for c in canonical], clean),
            strategy="uniform",
            propensity=0.5,
            submitted_at="2026-01-01T00:00:00+00:00",
            revision=revision,
            reference=item["reference"],
            doc_id=item["doc_id"],
            seg_id=item["seg_id"],
            meta=item["meta"],
        )
        self.rows.append(row)
        return row

    def stream(self) -> Iterator[AnnotationRow]:
        """Ordered like exports/selectors.py: by unit, then annotation id."""
        return iter(sorted(self.rows, key=lambda r: (r.unit_id, r.annotation_id)))


def mqm_study() -> StudyBuilder:
    """Three segments in two documents, two systems, two raters; every kind of MQM row:
    clean segments, target and source spans, a whole-segment Non-translation, notes with
    quotes, a non-BMP character before a span, ESA scores, and a later revision."""
    study = StudyBuilder("mqm", {"esa_score": True})
    study.item("s1", "The cat sat on the mat.", {"sysA": "Die Katze saß auf der Matte.", "sysB": "Der Katze 😺 sitzt auf die Matte"},
               doc_id="d1", seg_id="1")
    study.item("s2", 'He said "warm".', {"sysA": 'Er sagte "warm".', "sysB": "Er sagte warm"}, doc_id="d1", seg_id="2")
    study.item("s3", "Hello there.", {"sysA": "Hallo zusammen.", "sysB": "Hello there."}, doc_id="d2", seg_id="3",
               meta={"domain": "chat"})
    study.judge("s1", ["sysA"], "a1", {"no_error": True, "score": 95})
    study.judge("s1", ["sysA"], "a2", {"errors": [{"start": 27, "end": 28, "category": "Fluency/Punctuation", "severity": "minor"}], "score": 90})
    study.judge("s1", ["sysB"], "a1", {"errors": [
        {"start": 0, "end": 3, "category": "Fluency/Grammar", "severity": "major", "note": 'should be "Die"'},
        {"start": 12, "end": 17, "category": "Accuracy/Mistranslation", "severity": "minor"},
    ], "score": 40})
    study.judge("s1", ["sysB"], "a2", {"errors": [
        {"start": 4, "end": 7, "side": "source", "category": "Source error", "severity": "neutral", "note": "ambiguous"},
        {"start": 22, "end": 25, "category": "Style/Awkward", "severity": "minor"},
    ], "score": 55})
    study.judge("s2", ["sysA"], "a1", {"no_error": True, "score": 100})
    study.judge("s2", ["sysA"], "a1", {"errors": [{"start": 9, "end": 15, "category": "Style/Awkward", "severity": "minor"}], "score": 80},
                revision=2)
    study.judge("s2", ["sysB"], "a2", {"errors": [{"start": 9, "end": 13, "category": "Fluency/Punctuation", "severity": "minor", "note": "quotes lost"}], "score": 85})
    study.judge("s3", ["sysA"], "a1", {"no_error": True, "score": 100})
    study.judge("s3", ["sysB"], "a2", {"errors": [{"category": "Non-translation", "severity": "major"}], "score": 0})
    return study
