"""scores-long: golden CSV per task type, Parquet read back equal to the CSV and written in
row groups, pairwise skip / points, options."""

from __future__ import annotations

import csv
import dataclasses
import math

import pytest

from exports.formats import FormatError, get_exporter
from tests.unit.test_formats_fixtures import (  # noqa: F401  (fixtures are used by name)
    GOLDEN,
    StudyBuilder,
    _celery_in_process,
    _export_root,
    assert_matches_golden,
    mqm_study,
)

EXPORTER = get_exporter("scores-long")


def likert_study() -> StudyBuilder:
    study = StudyBuilder("likert", {"aspects": [{"name": "helpfulness", "scale": [1, 5]}, {"name": "slider", "scale": [0, 100]}],
                                    "side_by_side": True})
    ids = study.item("q1", [{"role": "user", "content": "Say hi"}], {"m1": "Hi!", "m2": "Hello there, friend."})
    study.judge("q1", ["m2", "m1"], "a1", {"ratings": {str(ids["m1"]): {"helpfulness": 4, "slider": 70},
                                                        str(ids["m2"]): {"helpfulness": 5, "slider": 88}}})
    study.judge("q1", ["m1", "m2"], "a2", {"ratings": {str(ids["m1"]): {"helpfulness": 2, "slider": 20},
                                                        str(ids["m2"]): {"helpfulness": 3, "slider": 51}}})
    return study


def rubric_study() -> StudyBuilder:
    study = StudyBuilder("rubric", {"criteria_source": "item"})
    study.item("r1", "Capital of France?", {"m1": "Paris.", "m2": "Lyon, I think."},
               meta={"rubric": [{"id": "correct", "text": "Names Paris", "weight": 3}, {"id": "brief", "text": "One sentence", "scale": [0, 2]}]})
    study.judge("r1", ["m1"], "a1", {"criteria": {"correct": {"value": "yes"}, "brief": {"value": 2}}})
    study.judge("r1", ["m2"], "a1", {"criteria": {"correct": {"value": "no"}, "brief": {"value": 1}}})
    return study


def pairwise_study() -> StudyBuilder:
    study = StudyBuilder("pairwise", {"aspects": ["style"]})
    ids = study.item("p1", "Write a haiku", {"m1": "an old pond", "m2": "frog jumps in"})
    study.judge("p1", ["m1", "m2"], "a1", {"choice": ids["m2"], "aspects": {"style": "tie"}})
    study.judge("p1", ["m2", "m1"], "a2", {"choice": "tie", "aspects": {"style": ids["m1"]}})
    return study


def read_csv(path):
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize(
    "name,build,options",
    [("mqm", mqm_study, {}), ("likert", likert_study, {}), ("rubric", rubric_study, {}),
     ("pairwise_points", pairwise_study, {"pairwise": "points"})],
)
def test_csv_matches_golden(tmp_path, name, build, options):
    study = build()
    summary = EXPORTER.write(study.stream(), tmp_path, study.ctx(**options))
    assert_matches_golden(tmp_path / "scores_long.csv", GOLDEN / "scores_long" / f"{name}.csv")
    assert summary.counts["rows"] == len(read_csv(tmp_path / "scores_long.csv"))


def test_only_the_latest_revision_is_written(tmp_path):
    study = mqm_study()
    EXPORTER.write(study.stream(), tmp_path, study.ctx())
    rows = [r for r in read_csv(tmp_path / "scores_long.csv") if (r["item_id"], r["system"], r["annotator"]) == ("s2", "sysA", "a1")]
    assert {(r["aspect"], r["score"], r["revision"]) for r in rows} == {("mqm", "-1.0", "2"), ("esa", "80.0", "2")}


def test_pairwise_is_skipped_by_default(tmp_path):
    study = pairwise_study()
    summary = EXPORTER.write(study.stream(), tmp_path, study.ctx())
    assert read_csv(tmp_path / "scores_long.csv") == []
    assert summary.counts["pairwise_records_skipped"] == 4 and summary.notes


def test_pairwise_points_are_one_zero_and_half():
    rows = read_csv(GOLDEN / "scores_long" / "pairwise_points.csv")
    by = {(r["annotator"], r["aspect"], r["system"]): float(r["score"]) for r in rows}
    assert by[("a1", "pairwise", "m2")] == 1.0 and by[("a1", "pairwise", "m1")] == 0.0
    assert by[("a2", "pairwise", "m1")] == by[("a2", "pairwise", "m2")] == 0.5
    assert by[("a2", "pairwise:style", "m1")] == 1.0


def test_parquet_holds_the_same_rows_as_csv(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    study = mqm_study()
    (tmp_path / "csv").mkdir()
    (tmp_path / "pq").mkdir()
    EXPORTER.write(study.stream(), tmp_path / "csv", study.ctx())
    summary = EXPORTER.write(study.stream(), tmp_path / "pq", study.ctx(file_format="parquet", row_group_size=5))
    assert [f.path for f in summary.files] == ["scores_long.parquet"]
    table = pq.read_table(tmp_path / "pq" / "scores_long.parquet")
    as_text = [{k: (repr(v) if k == "score" else str(v)) for k, v in r.items()} for r in table.to_pylist()]
    assert as_text == read_csv(tmp_path / "csv" / "scores_long.csv")
    assert str(table.schema.field("score").type) == "double" and str(table.schema.field("candidate_id").type) == "int64"


def test_parquet_streams_in_row_groups(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    base = likert_study()
    template = base.rows[0]

    def many(n):  # a long stream, generated lazily
        for i in range(n):
            yield dataclasses.replace(template, unit_id=i, annotation_id=i)

    summary = EXPORTER.write(many(2500), tmp_path, base.ctx(file_format="parquet", row_group_size=1000))
    assert summary.counts["rows"] == 2500 * 4
    meta = pq.ParquetFile(tmp_path / "scores_long.parquet").metadata
    assert meta.num_rows == 10_000 and meta.num_row_groups == math.ceil(10_000 / 1000)


def test_empty_study_writes_a_header_or_an_empty_table(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    study = StudyBuilder("likert")
    EXPORTER.write(iter(()), tmp_path, study.ctx())
    assert (tmp_path / "scores_long.csv").read_text().startswith("item_id,system,annotator,aspect,score")
    EXPORTER.write(iter(()), tmp_path, study.ctx(file_format="parquet"))
    assert pq.read_table(tmp_path / "scores_long.parquet").num_rows == 0


@pytest.mark.parametrize(
    "options,field",
    [({"file_format": "xlsx"}, "options.file_format"), ({"pairwise": "elo"}, "options.pairwise"),
     ({"row_group_size": 0}, "options.row_group_size"), ({"compression": "zstd"}, "options.compression")],
)
def test_refuses_bad_options(tmp_path, options, field):
    with pytest.raises(FormatError) as exc:
        EXPORTER.write(iter(()), tmp_path, StudyBuilder("likert").ctx(**options))
    assert exc.value.field == field
