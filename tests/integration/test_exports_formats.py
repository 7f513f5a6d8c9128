"""Exports and imports against the database: every preference format from a real study
(quality-control units and excluded annotators included), each folder loaded with
`datasets.load_dataset`; the selector's contract and query count; CSV items, judge scores and
preference pairs imported all-or-nothing, including the real hh-rlhf file."""

from __future__ import annotations

import gzip
import json
import random
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from annotation.errors import Invalid
from annotation.models import (
    Annotation,
    Assignment,
    Candidate,
    Item,
    StudyMembership,
    Unit,
)
from annotation.services import items_import
from annotation.task_types import get_task_type
from exports.formats import AnnotationRow, CandidateRow
from exports.selectors import annotation_rows
from exports.services import export_to_folder, judge_scores_import
from tests.factories import add_annotator, make_study, make_user

pytestmark = pytest.mark.django_db


def bulk_annotate(study, users, pick, *, duration_ms=5000, seed=0):
    """Every user judges every unit (in bulk, bypassing leasing): pick(unit, user_index) ->
    the choice (a candidate id, "tie" or "both_bad"); display order shuffled per judgment."""
    rng = random.Random(seed)
    task_type = get_task_type(study.task_type)
    now = timezone.now()
    assignments, plans = [], []
    for unit in Unit.objects.filter(study=study).order_by("id"):
        for k, user in enumerate(users):
            order = list(unit.candidate_ids)
            rng.shuffle(order)
            assignments.append(Assignment(study=study, unit=unit, annotator=user, status="submitted", strategy="uniform",
                                          propensity=0.5, display_order=order, expires_at=now + timedelta(hours=1), submitted_at=now))
            plans.append((unit, user, order, pick(unit, k)))
    assignments = Assignment.objects.bulk_create(assignments)
    Annotation.objects.bulk_create(
        Annotation(study=study, unit=unit, item_id=unit.item_id, assignment=a, annotator=user, response={"choice": choice, "rationale": ""},
                   display_order=order, strategy="uniform", propensity=0.5, idempotency_key=f"k{a.pk}", shown_at=now, duration_ms=duration_ms)
        for a, (unit, user, order, choice) in zip(assignments, plans, strict=True)
    )
    assert all(task_type.records(study.task_config, u.candidate_ids, {"choice": c}) for u, _, _, c in plans)


def system_of(unit, system):
    return Candidate.objects.get(item_id=unit.item_id, system=system).id


@pytest.fixture
def study_with_judgments():
    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=0, redundancy=3, task_config={"allow_tie": True, "allow_both_bad": True}, slug="real")
    lines = [json.dumps({"id": f"it-{i}", "prompt": f"Prompt number {i}",
                         "candidates": [{"system": s, "text": f"{s} answer to {i}" + "!" * (i % 3), "judges": {"len": float(i)}}
                                        for s in ("sys-a", "sys-b", "sys-c")]}) for i in range(8)]
    lines.append(json.dumps({"id": "chat", "prompt": [{"role": "user", "content": "Hi"}],
                             "candidates": [{"system": "sys-a", "text": "Hello!"}, {"system": "sys-b", "text": "Bye."}]}))
    lines.append(json.dumps({"id": "gold-1", "prompt": "2 + 2?", "candidates": [{"system": "sys-a", "text": "4"}, {"system": "sys-b", "text": "5"}],
                             "meta": {"gold": {"choice": "sys-a"}}}))
    items_import(study=study, lines=lines)
    users = [add_annotator(study, f"ann{i}") for i in range(4)]
    choices = ["sys-a", "sys-a", "tie", "sys-b"]
    bulk_annotate(study, users, lambda unit, k: choices[k] if choices[k] == "tie" else
                  (system_of(unit, choices[k]) if choices[k] in [c.system for c in Candidate.objects.filter(id__in=unit.candidate_ids)]
                   else unit.candidate_ids[0]))
    StudyMembership.objects.filter(study=study, user=users[3]).update(excluded=True, excluded_reason="failed checks")
    return study, users


@pytest.mark.parametrize("format_name,options", [
    ("trl-preference", {}),
    ("trl-preference", {"aggregate": "majority", "file_format": "parquet", "test_size": 0.3, "seed": 5}),
    ("trl-preference", {"aggregate": "bt", "prompt": "implicit"}),
    ("trl-unpaired", {"file_format": "parquet"}),
    ("rewardbench", {}),
    ("pairwise-judgments", {"test_size": 0.5}),
    ("raw", {}),
])
def test_every_preference_format_from_the_database_loads_with_datasets(tmp_path, study_with_judgments, format_name, options):
    datasets = pytest.importorskip("datasets")
    study, _ = study_with_judgments
    out = tmp_path / "out"
    counts = export_to_folder(study=study, format_name=format_name, options=options, out_dir=out)
    card = (out / "README.md").read_text()
    assert "## Protocol" in card and "## Agreement and bias" in card and "## Files" in card
    if format_name != "raw":
        # the QC-excluded annotator (ann3: 26 units) and the gold unit (judged by the 3 others)
        # are left out and counted
        assert counts["qc_excluded_annotator_judgments"] == 26 and counts["qc_judgments"] == 3
        assert "qc excluded annotator judgments: 26" in card
    else:
        assert counts["judgments"] == 104
    files = [p for p in out.rglob("*") if p.is_file() and p.name != "README.md"]
    assert files
    loaded = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "hf"))
    total = sum(split.num_rows for split in loaded.values())
    expected = counts.get("pairs_written", counts.get("rows_written", counts.get("judgments")))
    assert total == expected
    if options.get("test_size"):
        assert set(loaded) == {"train", "test"}
        key = "prompt" if "prompt" in loaded["train"].column_names else "item_id"
        assert not set(map(str, loaded["train"][key])) & set(map(str, loaded["test"][key]))


def test_selector_rows_match_the_models(study_with_judgments, django_assert_max_num_queries):
    study, users = study_with_judgments
    excluded = users[3].pk
    with django_assert_max_num_queries(3 + 2 * 11):  # excluded and imported raters, annotations, items + candidates a chunk
        rows = list(annotation_rows(study, chunk_size=10))
    assert len(rows) == Annotation.objects.filter(study=study).count() == 104
    by_id = {r.annotation_id: r for r in rows}
    pks = [r.annotation_id for r in rows]
    ordered = list(Annotation.objects.filter(study=study).order_by("item_id", "unit_id", "id").values_list("id", flat=True))
    assert pks == ordered
    task_type = get_task_type("pairwise")
    for ann in Annotation.objects.filter(study=study).select_related("unit", "item"):
        row = by_id[ann.pk]
        candidates = {c.id: c for c in Candidate.objects.filter(item=ann.item)}
        expected = AnnotationRow(
            annotation_id=ann.pk, unit_id=ann.unit_id, item_id=ann.item.external_id, prompt=ann.item.prompt,
            candidates=tuple(CandidateRow(c, candidates[c].system, candidates[c].text, candidates[c].judges) for c in ann.unit.candidate_ids),
            display_order=tuple(ann.display_order), annotator=f"a{ann.annotator_id}", response=ann.response,
            records=task_type.records(study.task_config, ann.unit.candidate_ids, ann.response), strategy=ann.strategy,
            propensity=ann.propensity, submitted_at=ann.submitted_at.isoformat(), duration_ms=ann.duration_ms, revision=ann.revision,
            reference=ann.item.reference, doc_id=ann.item.doc_id, seg_id=ann.item.seg_id, meta=ann.item.meta,
            unit_kind=ann.unit.kind, annotator_excluded=ann.annotator_id == excluded,
        )
        assert row == expected


def test_csv_items_import_all_or_nothing():
    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=0)
    good = "id,prompt,system,text,judges.comet\nx1,Hallo,sys-a,Hello,0.8\nx1,Hallo,sys-b,Hi,0.7\n"
    assert items_import(study=study, lines=good.splitlines(True), format_name="csv") == {"items": 1, "units_in_study": 1}
    assert Candidate.objects.get(item__external_id="x1", system="sys-a").judges == {"comet": 0.8}
    bad = "id,prompt,system,text,judges.comet\nx2,P,sys-a,A,0.1\nx2,P,sys-b,B,0.2\nx3,Q,sys-a,A,lots\n"
    with pytest.raises(Invalid) as caught:
        items_import(study=study, lines=bad.splitlines(True), format_name="csv")
    assert "line 4, judges.comet" in caught.value.message and "nothing was imported" in caught.value.message
    assert caught.value.errors == {"line 4, judges.comet": "'lots' is not a number"}
    assert not Item.objects.filter(external_id="x2").exists()


def test_judge_scores_import_replaces_and_refuses_whole_files(tmp_path):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=3)  # it-0..2 with sys-a, sys-b, judge "len"
    path = tmp_path / "scores.csv"
    path.write_text("item_id,system,judge,score\nit-0,sys-a,comet,0.81\nit-0,sys-b,comet,0.79\nit-1,sys-a,len,99\n")
    call_command("import_scores", study.slug, str(path))
    assert Candidate.objects.get(item__external_id="it-0", system="sys-a").judges == {"len": 5.0, "comet": 0.81}
    assert Candidate.objects.get(item__external_id="it-1", system="sys-a").judges == {"len": 99.0}
    result = judge_scores_import(study=study, lines=['{"item_id": "it-2", "system": "sys-b", "judge": "rm/x", "score": -1.5}\n'], format_name="jsonl")
    assert result == {"scores": 1, "judges": ["rm/x"]}
    for text, where in [
        ("item_id,system,judge,score\nit-2,sys-a,bleu,30\nit-9,sys-a,bleu,1\n", "line 3, item_id"),
        ("item_id,system,judge,score\nit-2,sys-a,bleu,30\nit-2,sys-z,bleu,1\n", "line 3, system"),
    ]:
        path.write_text(text)
        with pytest.raises(CommandError, match=where):
            call_command("import_scores", study.slug, str(path))
        assert "bleu" not in Candidate.objects.get(item__external_id="it-2", system="sys-a").judges  # nothing of it stored
    path.write_text("item_id,system,judge,score\n")
    with pytest.raises(CommandError, match="no scores found"):
        call_command("import_scores", study.slug, str(path))


def hh_study():
    owner = make_user("owner", researcher=True)
    return make_study(owner, items=0, redundancy=1, task_config={"allow_tie": True}, slug="hh")


def test_preferences_from_a_committed_hh_rlhf_excerpt_round_trip(tmp_path):
    """Import hh-rlhf pairs to re-annotate; when the new annotators agree with the original
    labels, the implicit-prompt export gives back the original transcripts byte for byte."""
    excerpt = Path(__file__).resolve().parents[1] / "golden" / "hh_rlhf" / "harmless-base-test.excerpt.jsonl"
    study = hh_study()
    call_command("import_preferences", study.slug, str(excerpt))
    assert Item.objects.filter(study=study).count() == 8
    bulk_annotate(study, [add_annotator(study, "ann")], lambda unit, k: system_of(unit, "chosen"))
    out = tmp_path / "out"
    export_to_folder(study=study, format_name="trl-preference", options={"prompt": "implicit", "aggregate": "majority"}, out_dir=out)
    exported = [json.loads(line) for line in (out / "trl_preference.jsonl").read_text().splitlines()]
    originals = {f"pair-{n}": json.loads(line) for n, line in enumerate(excerpt.read_text().splitlines(), start=1)}
    assert len(exported) == 8
    for row in exported:
        assert (row["chosen"], row["rejected"]) == (originals[row["prompt_id"]]["chosen"], originals[row["prompt_id"]]["rejected"])


def test_the_real_hh_rlhf_file_imports_whole_or_not_at_all(shared_data, tmp_path):
    path = shared_data / "hh-rlhf" / "harmless-base" / "test.jsonl.gz"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    study = hh_study()
    out = __import__("io").StringIO()
    call_command("import_preferences", study.slug, str(path), "--chat", stdout=out)
    assert "Imported 2312 pairs" in out.getvalue()
    assert Unit.objects.filter(study=study).count() == 2312
    empty = Candidate.objects.filter(item__study=study, system="chosen", text="").count()
    assert empty >= 4  # the transcripts whose chosen reply is empty
    # the same file with one broken line at the end: nothing of it is stored, the line is named
    broken = tmp_path / "broken.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as src, gzip.open(broken, "wt", encoding="utf-8") as dst:
        dst.write(src.read())
        dst.write('{"chosen": "\\n\\nHuman: a\\n\\nAssistant: b"}\n')
    other = make_study(make_user("other", researcher=True), items=0, redundancy=1, slug="hh-2")
    with pytest.raises(CommandError, match="line 2313, rejected"):
        call_command("import_preferences", other.slug, str(broken))
    assert not Item.objects.filter(study=other).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_reader_thread_gives_the_rows_of_the_plain_cursor_and_stops_with_its_consumer():
    import threading

    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        pytest.skip("the reader thread runs on PostgreSQL only (set DATABASE_URL=postgres://...)")
    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=15, redundancy=2, task_config={"allow_tie": True}, slug="threaded")
    bulk_annotate(study, [add_annotator(study, "ann0"), add_annotator(study, "ann1")], lambda unit, k: "tie" if k else unit.candidate_ids[0])
    threaded = list(annotation_rows(study, chunk_size=7))  # autocommit: the reader thread, its own connection
    with transaction.atomic():
        plain = list(annotation_rows(study, chunk_size=7))  # in a transaction: this connection's cursor
    assert threaded == plain and len(plain) == 30
    rows = annotation_rows(study, chunk_size=3)
    next(rows)
    rows.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("export-reader")]


def test_a_format_that_cannot_export_the_task_type_is_refused_up_front():
    from exports.models import ExportJob
    from exports.services import export_create

    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=0, task_type="likert", slug="likert")
    with pytest.raises(Invalid) as caught:
        export_create(study=study, user=owner, format_name="rewardbench")
    assert caught.value.errors == {"format": "rewardbench exports pairwise studies, not likert"}
    assert not ExportJob.objects.exists()
