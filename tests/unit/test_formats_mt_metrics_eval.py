"""mt-metrics-eval: golden trees, files readable the way MTME reads them, and, on the real
WMT file, scores equal to MTME's own score_mqm arithmetic."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from exports.formats import FormatError, get_exporter
from exports.formats.mqm_tsv import MqmTsvImporter
from tests.unit.test_formats_fixtures import (  # noqa: F401  (fixtures are used by name)
    GOLDEN,
    StudyBuilder,
    _celery_in_process,
    _export_root,
    assert_tree_matches_golden,
    mqm_study,
    real_file,
)
from tests.unit.test_formats_mqm_tsv import EXCERPT, read_lines, study_from
from tests.unit.test_formats_scores_long import likert_study

EXPORTER = get_exporter("mt-metrics-eval")
RATING_KEYS = {"start", "end", "category", "severity", "score", "is_source_error"}  # MTME ratings.Error


def read_score_file(path: Path) -> dict[str, list[float | None]]:
    """mt_metrics_eval.data.ReadScoreFile: whitespace-split `SYSTEM SCORE` lines."""
    scores: dict[str, list[float | None]] = defaultdict(list)
    for line in path.read_text(encoding="utf-8").splitlines():
        system, score = line.split()
        scores[system].append(float(score) if score != "None" else None)
    return dict(scores)


def read_rating_file(path: Path) -> dict[str, list[tuple[dict | None, str | None]]]:
    """mt_metrics_eval.ratings.ReadRatingFile: `SYSTEM<TAB>JSON<TAB>RATER` or `SYSTEM<TAB>None`."""
    ratings: dict[str, list] = defaultdict(list)
    for line in path.read_text(encoding="utf-8").splitlines():
        cols = line.strip().split("\t")
        assert len(cols) in (2, 3), line
        if cols[1] == "None":
            ratings[cols[0]].append((None, None))
        else:
            rating = json.loads(cols[1])
            assert set(rating) == {"errors"} and all(set(e) == RATING_KEYS for e in rating["errors"])
            ratings[cols[0]].append((rating, cols[2]))
    return dict(ratings)


def test_mqm_fixture_matches_golden(tmp_path):
    study = mqm_study()
    summary = EXPORTER.write(study.stream(), tmp_path, study.ctx(lp="en-de"))
    assert_tree_matches_golden(tmp_path, GOLDEN / "mt_metrics_eval" / "mqm_fixture")
    assert summary.counts["ratings_not_merged"] == 1  # a1 and a2 both rated (sysA, s1)
    assert {f.path for f in summary.files} >= {"human-scores/en-de.mqm.seg.score", "human-scores/en-de.mqm.a1.seg.rating"}


def test_mqm_fixture_scores_are_means_over_annotators_segments_and_documents(tmp_path):
    study = mqm_study()
    EXPORTER.write(study.stream(), tmp_path, study.ctx())
    seg = read_score_file(tmp_path / "human-scores" / "mqm.seg.score")
    # s1/sysA: a1 clean (0) and a2 minor punctuation (-0.1); s2/sysA: a1's revision 2 (-1) replaces revision 1
    assert seg == {"sysA": [-0.05, -1.0, 0.0], "sysB": [-3.5, -0.1, -25.0]}
    assert read_score_file(tmp_path / "human-scores" / "mqm.doc.score") == {"sysA": [-0.525, 0.0], "sysB": [-1.8, -25.0]}
    sys_scores = read_score_file(tmp_path / "human-scores" / "mqm.sys.score")
    assert sys_scores["sysA"] == [pytest.approx(-0.35)] and sys_scores["sysB"] == [pytest.approx(-28.6 / 3)]
    a2 = read_rating_file(tmp_path / "human-scores" / "mqm.a2.seg.rating")
    assert a2["sysA"][1] == (None, None)
    whole = a2["sysB"][2][0]["errors"][0]
    assert (whole["start"], whole["end"], whole["score"]) == (-1, -1, 25.0)
    assert (tmp_path / "documents" / "mqm.docs").read_text() == "default d1\ndefault d1\nchat d2\n"


def test_esa_scores_by_aspect(tmp_path):
    study = mqm_study()
    EXPORTER.write(study.stream(), tmp_path, study.ctx(name="esa", ratings="none"))
    assert read_score_file(tmp_path / "human-scores" / "esa.seg.score") == {"sysA": [92.5, 80.0, 100.0], "sysB": [47.5, 85.0, 0.0]}
    assert not list((tmp_path / "human-scores").glob("*.rating"))


def test_wmt_excerpt_matches_golden_with_a_merged_rating_file(tmp_path):
    with EXCERPT.open(encoding="utf-8", newline="") as handle:
        study = study_from(list(MqmTsvImporter().parse_segments(handle)))
    summary = EXPORTER.write(study.stream(), tmp_path, study.ctx(lp="en-de"))
    assert_tree_matches_golden(tmp_path, GOLDEN / "mt_metrics_eval" / "wmt_excerpt")
    assert "ratings_not_merged" not in summary.counts
    merged = read_rating_file(tmp_path / "human-scores" / "en-de.mqm.merged.seg.rating")
    assert len(merged) == 14 and merged["metricsystem5"][0][1] == "rater1" and len(merged["metricsystem5"][0][0]["errors"]) == 3
    # the excerpt ends inside segment 3: systems it does not reach have None there
    assert merged["ref"][2] == (None, None)


def test_likert_aspect_without_ratings(tmp_path):
    study = likert_study()
    EXPORTER.write(study.stream(), tmp_path, study.ctx(name="helpfulness"))
    assert read_score_file(tmp_path / "human-scores" / "helpfulness.seg.score") == {"m1": [3.0], "m2": [4.0]}
    assert read_score_file(tmp_path / "human-scores" / "helpfulness.sys.score") == {"m1": [3.0], "m2": [4.0]}
    assert not list((tmp_path / "human-scores").glob("*.rating"))


def test_unknown_aspect_gives_none_and_a_note(tmp_path):
    study = likert_study()
    summary = EXPORTER.write(study.stream(), tmp_path, study.ctx())  # name/aspect "mqm"
    assert read_score_file(tmp_path / "human-scores" / "mqm.seg.score") == {"m1": [None], "m2": [None]}
    assert summary.notes


def test_per_rater_files_on_request(tmp_path):
    with EXCERPT.open(encoding="utf-8", newline="") as handle:
        study = study_from(list(MqmTsvImporter().parse_segments(handle)))
    EXPORTER.write(study.stream(), tmp_path, study.ctx(ratings="per-rater"))
    names = sorted(p.name for p in (tmp_path / "human-scores").glob("*.rating"))
    assert names == [f"mqm.rater{i}.seg.rating" for i in (1, 2, 3, 4)]


def test_refuses_a_system_name_with_whitespace(tmp_path):
    study = StudyBuilder("likert")
    study.item("x", "p", {"my system": "t"})
    study.judge("x", ["my system"], "a", {"ratings": {"1": {"overall": 3}}})
    with pytest.raises(FormatError) as exc:
        EXPORTER.write(study.stream(), tmp_path, study.ctx(name="overall"))
    assert exc.value.field == "system"


@pytest.mark.parametrize(
    "options,field",
    [({"name": "mqm.v2"}, "options.name"), ({"lp": "english-german"}, "options.lp"), ({"ratings": "all"}, "options.ratings"),
     ({"aspect": ""}, "options.aspect"), ({"level": "seg"}, "options.level")],
)
def test_refuses_bad_options(tmp_path, options, field):
    with pytest.raises(FormatError) as exc:
        EXPORTER.write(iter(()), tmp_path, StudyBuilder("mqm").ctx(**options))
    assert exc.value.field == field


def test_real_file_scores_equal_mtme_score_mqm(tmp_path):
    """Seg and sys scores from the export equal MTME's score_mqm arithmetic on the raw TSV
    (weights Major:5 Minor:1 Neutral:0 Minor/Fluency/Punctuation:0.1, most specific match;
    segment = -mean over raters of the rater's sum; system = mean over segments)."""
    path = real_file()
    weights = {"Major": 5.0, "Minor": 1.0, "Neutral": 0.0, "Minor/Fluency/Punctuation": 0.1}
    sums: dict[str, dict[int, dict[str, float]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(float)))
    for line in read_lines(path)[1:]:
        system, _, _, seg_id, rater, _, _, category, severity, _ = line.split("\t")
        items = [severity, *category.split("/")]
        while items and "/".join(items) not in weights:
            items = items[:-1]
        sums[system][int(seg_id)][rater] += weights["/".join(items)] if items else 0.0
    expected_seg = {s: [-sum(r.values()) / len(r) for _, r in sorted(segs.items())] for s, segs in sums.items()}

    with path.open(encoding="utf-8", newline="") as handle:
        study = study_from(list(MqmTsvImporter(unclosed_span="to_end").parse_segments(handle)))
    EXPORTER.write(study.stream(), tmp_path, study.ctx(lp="en-de"))
    seg = read_score_file(tmp_path / "human-scores" / "en-de.mqm.seg.score")
    assert seg.keys() == expected_seg.keys()
    for system, scores in expected_seg.items():
        assert seg[system] == pytest.approx(scores, abs=1e-9), system
    sys_scores = read_score_file(tmp_path / "human-scores" / "en-de.mqm.sys.score")
    for system, scores in expected_seg.items():
        assert sys_scores[system][0] == pytest.approx(sum(scores) / len(scores), abs=1e-9)
    merged = read_rating_file(tmp_path / "human-scores" / "en-de.mqm.merged.seg.rating")
    assert sum(len(r["errors"]) for ratings in merged.values() for r, _ in ratings if r) == 4031
    docs = (tmp_path / "documents" / "en-de.docs").read_text().splitlines()
    assert len(docs) == 529 and docs[0] == "default talk.1"


def test_the_folder_loads_with_datasets_its_scores_first(tmp_path):
    """MTME's own files (.score, .rating, .docs) are not a format `datasets` reads: the card
    describes them but configures only the TSV tables, the seg-level scores first."""
    datasets = pytest.importorskip("datasets")
    from exports.pipeline import run_exporter

    study = mqm_study()
    out = tmp_path / "out"
    out.mkdir()
    run_exporter(EXPORTER, study.stream(), out, study.spec, {"lp": "en-de"})
    card = (out / "README.md").read_text(encoding="utf-8")
    header = card.split("---")[1]
    assert '"scores.tsv"' in header and '"segments.tsv"' in header and ".score" not in header.replace("scores.tsv", "")
    assert "### `human-scores/en-de.mqm.seg.score`" in card and "`datasets` does not read it" in card
    scores = datasets.load_dataset(str(out), split="train", cache_dir=str(tmp_path / "hf"))
    seg = read_score_file(out / "human-scores" / "en-de.mqm.seg.score")
    loaded: dict[str, list] = defaultdict(list)
    for row in scores:
        loaded[row["system"]].append(row["score"])
    assert dict(loaded) == seg
    segments = datasets.load_dataset(str(out), "segments", split="train", cache_dir=str(tmp_path / "hf"))
    assert [r["item_id"] for r in segments] == [r["item_id"] for r in scores if r["system"] == "sysA"]


def test_a_pairwise_study_is_refused_up_front():
    with pytest.raises(FormatError, match="mt-metrics-eval exports likert, mqm and rubric studies, not pairwise"):
        EXPORTER.check_task_type("pairwise")
