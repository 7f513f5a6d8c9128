"""Preference-data exports (trl-preference, trl-unpaired, rewardbench, pairwise-judgments, raw)
through the whole pure pipeline (options, exclusions, streaming stats, card): golden folders,
`datasets.load_dataset` on each, splits by prompt, aggregation rules, options refused by name,
and memory that does not grow with the stream.

Golden folders live in tests/golden/export_<format>/<case>/; a Parquet file is compared as
`<file>.rows.json` (its schema and rows), since the bytes carry the writer's version.
TRENCHCOAT_UPDATE_GOLDEN=1 rewrites them from the current output (review the diff)."""

from __future__ import annotations

import dataclasses
import json
import shutil
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exports.formats import FormatError, all_exporters, get_exporter
from exports.formats.splits import Splitter, prompt_key
from exports.pipeline import run_exporter
from tests.unit.test_formats_fixtures import (  # noqa: F401  (fixtures are used by name)
    GOLDEN,
    UPDATE,
    StudyBuilder,
    _celery_in_process,
    _export_root,
    assert_matches_golden,
)

QUALITY = {"gold_rate": 0.1, "attention_rate": 0.0, "min_pass_rate": 0.6, "min_checks": 3, "min_seconds_per_unit": 1, "lease_seconds": 900}


class PairStudy(StudyBuilder):
    """A pairwise StudyBuilder whose stream is ordered like exports/selectors.py (item, then
    unit, then id) and whose rows can carry quality-control facts."""

    def __init__(self, task_config=None, slug="golden-pairs"):
        super().__init__("pairwise", task_config or {"allow_tie": True, "allow_both_bad": True})
        self.spec.update(slug=slug, name="Which answer is better?", instructions="Pick the better answer.\n\nA tie is fine.",
                         redundancy=3, strategy={"name": "uniform", "params": {}}, quality=QUALITY)
        self.order: dict[str, int] = {}

    def item(self, item_id, prompt, systems, **kw):
        self.order[item_id] = len(self.order)
        return super().item(item_id, prompt, systems, **kw)

    def judge(self, item_id, systems, annotator, response, *, duration_ms=4000, **facts):
        row = super().judge(item_id, systems, annotator, response)
        row = dataclasses.replace(row, duration_ms=duration_ms, **facts)
        self.rows[-1] = row
        return row

    def stream(self) -> Iterator:
        return iter(sorted(self.rows, key=lambda r: (self.order[r.item_id], r.unit_id, r.annotation_id)))


def golden_study() -> PairStudy:
    """Four items: a 2-1 win with a tie vote; three candidates (a clear win, a both-bad
    majority, a 1-1 split); a gold unit; and a unit judged by a QC-excluded annotator and a
    speeder."""
    s = PairStudy()
    q1 = s.item("q1", "What is 2 + 2?", {"sys-a": "4", "sys-b": "Four, because two plus two makes four."})
    s.judge("q1", ["sys-a", "sys-b"], "a1", {"choice": q1["sys-a"]})
    s.judge("q1", ["sys-b", "sys-a"], "a2", {"choice": q1["sys-a"]})
    s.judge("q1", ["sys-b", "sys-a"], "a3", {"choice": "tie"})
    q2 = s.item("q2", "Name a colour.", {"sys-a": "Blue", "sys-b": "Red", "sys-c": "Green, the colour of grass."},
                meta={"topic": "colours"})
    s.judge("q2", ["sys-a", "sys-b"], "a1", {"choice": q2["sys-b"]})
    s.judge("q2", ["sys-b", "sys-a"], "a2", {"choice": q2["sys-b"]})
    s.judge("q2", ["sys-a", "sys-b"], "a3", {"choice": q2["sys-a"]})
    s.judge("q2", ["sys-c", "sys-a"], "a1", {"choice": "both_bad"})
    s.judge("q2", ["sys-a", "sys-c"], "a2", {"choice": "both_bad"})
    s.judge("q2", ["sys-c", "sys-a"], "a3", {"choice": q2["sys-c"]})
    s.judge("q2", ["sys-b", "sys-c"], "a1", {"choice": q2["sys-b"]})
    s.judge("q2", ["sys-c", "sys-b"], "a2", {"choice": q2["sys-c"]})
    q3 = s.item("q3", "Say hello.", {"sys-a": "Hello!", "sys-b": "Hi"})
    s.judge("q3", ["sys-b", "sys-a"], "a1", {"choice": q3["sys-a"]}, unit_kind="gold")
    q4 = s.item("q4", "Translate 'chat' from French.", {"sys-a": "cat", "sys-b": "chat"})
    s.judge("q4", ["sys-a", "sys-b"], "a9", {"choice": q4["sys-b"]}, annotator_excluded=True)
    s.judge("q4", ["sys-b", "sys-a"], "a1", {"choice": q4["sys-a"]}, duration_ms=400)
    s.judge("q4", ["sys-a", "sys-b"], "a2", {"choice": q4["sys-a"]})
    return s


def chat_study() -> PairStudy:
    s = PairStudy(slug="golden-chat")
    c1 = s.item("c1", [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of France?"}],
                {"m1": "Paris.", "m2": "It is Lyon."})
    s.judge("c1", ["m1", "m2"], "a1", {"choice": c1["m1"]})
    s.judge("c1", ["m2", "m1"], "a2", {"choice": c1["m1"]})
    c2 = s.item("c2", [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"},
                       {"role": "user", "content": "Tell me a joke."}], {"m1": "No.", "m2": "Why did the chicken cross the road?"})
    s.judge("c2", ["m2", "m1"], "a1", {"choice": c2["m2"]})
    s.judge("c2", ["m1", "m2"], "a2", {"choice": "tie"})
    return s


CASES = {
    "trl-preference/default": (golden_study, "trl-preference", {}),
    "trl-preference/majority-implicit-parquet": (golden_study, "trl-preference", {"aggregate": "majority", "prompt": "implicit", "file_format": "parquet"}),
    "trl-preference/bt-split": (golden_study, "trl-preference", {"aggregate": "bt", "test_size": 0.5, "seed": 8}),
    "trl-preference/chat-majority": (chat_study, "trl-preference", {"aggregate": "majority", "ties": "ignore"}),
    "trl-preference/chat-implicit-parquet": (chat_study, "trl-preference", {"prompt": "implicit", "file_format": "parquet"}),
    "trl-unpaired/default": (golden_study, "trl-unpaired", {}),
    "trl-unpaired/majority-chat-parquet": (chat_study, "trl-unpaired", {"aggregate": "majority", "file_format": "parquet"}),
    "rewardbench/default": (golden_study, "rewardbench", {}),
    "rewardbench/min-agreement-jsonl": (golden_study, "rewardbench", {"min_agreement": 0.75, "ties": "ignore", "file_format": "jsonl"}),
    "pairwise-judgments/default": (golden_study, "pairwise-judgments", {}),
    "pairwise-judgments/exclusions": (golden_study, "pairwise-judgments", {"exclude_speeders": True, "exclude_annotators": ["a3"],
                                                                           "include_qc_units": True}),
    "raw/default": (golden_study, "raw", {}),
}


def export(tmp_path: Path, case: str):
    build, name, options = CASES[case]
    study = build()
    out = tmp_path / case.replace("/", "-")
    out.mkdir()
    summary = run_exporter(get_exporter(name), study.stream(), out, study.spec, options)
    return out, summary


def parquet_as_json(path: Path) -> str:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    lines = [f"schema: {field.name}: {field.type}" for field in table.schema]
    lines += [json.dumps(row, ensure_ascii=False, sort_keys=True) for row in table.to_pylist()]
    return "\n".join(lines) + "\n"


def assert_folder_matches_golden(out: Path, golden: Path, tmp_path: Path) -> None:
    produced = {}
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        rel = path.relative_to(out).as_posix()
        if path.suffix == ".parquet":
            shown = tmp_path / "parquet-as-json" / f"{rel}.rows.json"
            shown.parent.mkdir(parents=True, exist_ok=True)
            shown.write_text(parquet_as_json(path), encoding="utf-8")
            produced[f"{rel}.rows.json"] = shown
        else:
            produced[rel] = path
    if UPDATE and golden.exists():
        shutil.rmtree(golden)
    for rel, path in produced.items():
        assert_matches_golden(path, golden / rel)
    expected = sorted(p.relative_to(golden).as_posix() for p in golden.rglob("*") if p.is_file())
    assert sorted(produced) == expected


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_golden_folder(tmp_path, case):
    out, _ = export(tmp_path, case)
    assert_folder_matches_golden(out, GOLDEN / f"export_{case.split('/')[0].replace('-', '_')}" / case.split("/")[1], tmp_path)


@pytest.mark.parametrize("case", sorted(CASES))
def test_folder_loads_with_datasets(tmp_path, case):
    datasets = pytest.importorskip("datasets")
    out, summary = export(tmp_path, case)
    from exports.card import configs

    for config, files in configs(summary.files).items():
        loaded = datasets.load_dataset(str(out), config, cache_dir=str(tmp_path / "hf-cache"))
        for schema in files:
            if schema.rows is not None:
                assert loaded[schema.split].num_rows == schema.rows, (config, schema.split)
            assert set(schema.columns) <= set(loaded[schema.split].column_names)


# --- what the golden folders show, stated as rules -------------------------------------------


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_per_judgment_pairs_follow_each_choice_and_count_what_they_leave_out(tmp_path):
    out, summary = export(tmp_path, "trl-preference/default")
    rows = read_jsonl(out / "trl_preference.jsonl")
    # q1: 2 wins for sys-a (the tie is counted); q2: 3 + 0 + 2 decisive; q3 gold and q4's excluded
    # annotator and ... q4 keeps a1 (speeders are kept unless asked) and a2
    assert [(r["prompt_id"], r["chosen_system"], r["annotator"]) for r in rows] == [
        ("q1", "sys-a", "a1"), ("q1", "sys-a", "a2"),
        ("q2", "sys-b", "a1"), ("q2", "sys-b", "a2"), ("q2", "sys-a", "a3"),
        ("q2", "sys-c", "a3"),
        ("q2", "sys-b", "a1"), ("q2", "sys-c", "a2"),
        ("q4", "sys-a", "a1"), ("q4", "sys-a", "a2"),
    ]
    c = summary.counts
    assert (c["ties"], c["both_bad"], c["qc_judgments"], c["qc_excluded_annotator_judgments"], c["pairs_written"]) == (1, 2, 1, 1, 10)
    assert rows[1]["display_order"] == ["sys-b", "sys-a"] and rows[0]["agreement"] == pytest.approx(2 / 3)
    card = (out / "README.md").read_text()
    assert "- ties: 1" in card and "- qc judgments: 1" in card and "Krippendorff" in card and "position bias" in card


def test_majority_needs_a_strict_winner_and_ties_can_count_or_not(tmp_path):
    study = golden_study()
    counted = Counter()
    from exports.formats.preferences import preference_pairs

    def pairs(ties):
        counts = Counter()
        rows = [r for r in study.stream() if r.unit_kind == "regular" and not r.annotator_excluded]
        got = [(p.row.item_id, p.chosen.system, p.rejected.system, p.margin) for p in
               preference_pairs(iter(rows), {"aggregate": "majority", "ties": ties, "min_agreement": 0}, counts)]
        return got, counts

    got, counted = pairs("count")
    assert got == [("q1", "sys-a", "sys-b", 2), ("q2", "sys-b", "sys-a", 1), ("q4", "sys-a", "sys-b", 2)]
    assert counted["no_majority"] == 2  # q2's both-bad majority and its 1-1 split
    got, _ = pairs("ignore")
    assert ("q2", "sys-c", "sys-a", 1) in got  # both-bad votes ignored: 1-0 for sys-c


def test_bradley_terry_orients_pairs_by_the_items_scores(tmp_path):
    out, summary = export(tmp_path, "trl-preference/bt-split")
    rows = read_jsonl(out / "trl_preference" / "train.jsonl") + read_jsonl(out / "trl_preference" / "test.jsonl")
    q2 = {(r["chosen_system"], r["rejected_system"]) for r in rows if r["prompt_id"] == "q2"}
    # sys-b beats sys-a 2-1; sys-c beats sys-a once with two both-bad votes (ties in the fit);
    # sys-b and sys-c split 1-1: both sit above sys-a, level with each other (no pair)
    assert q2 == {("sys-b", "sys-a"), ("sys-c", "sys-a")}
    assert summary.counts["no_majority"] == 1 and all(r["margin"] > 0 for r in rows)
    # with ties ignored, sys-c's record against sys-a (1-0) beats sys-b's (2-1): sys-c > sys-b
    from exports.formats.preferences import preference_pairs

    regular = [r for r in golden_study().stream() if r.item_id == "q2"]
    pairs = preference_pairs(iter(regular), {"aggregate": "bt", "ties": "ignore", "min_agreement": 0}, Counter())
    assert ("sys-c", "sys-b") in {(p.chosen.system, p.rejected.system) for p in pairs}


def test_implicit_prompt_puts_the_prompt_inside_chosen_and_rejected(tmp_path):
    out, _ = export(tmp_path, "trl-preference/chat-implicit-parquet")
    import pyarrow.parquet as pq

    rows = pq.read_table(out / "trl_preference.parquet").to_pylist()
    assert "prompt" not in rows[0]
    assert rows[0]["chosen"][:-1] == rows[0]["rejected"][:-1] == [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of France?"}]
    assert rows[0]["chosen"][-1] == {"role": "assistant", "content": "Paris."}


@pytest.mark.parametrize("prompt,completion,joined", [
    ("\n\nHuman: Hi\n\nAssistant:", " Hello", "\n\nHuman: Hi\n\nAssistant: Hello"),  # hh-rlhf: no separator added
    ("\n\nHuman: Hi\n\nAssistant:", "", "\n\nHuman: Hi\n\nAssistant:"),  # an empty reply stays empty
    ("What is 2 + 2?", "4", "What is 2 + 2?\n\n4"),
])
def test_implicit_text_joins_prompt_and_completion(prompt, completion, joined):
    from exports.formats.preferences import join_implicit

    assert join_implicit(prompt, completion, "auto") == joined


def test_strength_scale_gives_the_margin_of_each_judgment(tmp_path):
    s = PairStudy({"allow_tie": True, "strength_scale": [-3, 3]})
    ids = s.item("q", "p", {"x": "one", "y": "two"})
    s.judge("q", ["x", "y"], "a1", {"choice": ids["y"], "strength": 3})
    s.judge("q", ["y", "x"], "a2", {"choice": ids["x"], "strength": 1})
    run_exporter(get_exporter("trl-preference"), s.stream(), tmp_path, s.spec, {})
    assert [(r["chosen_system"], r["margin"]) for r in read_jsonl(tmp_path / "trl_preference.jsonl")] == [("y", 3), ("x", 1)]


def test_unpaired_labels_winners_true_losers_and_both_bad_false(tmp_path):
    out, summary = export(tmp_path, "trl-unpaired/default")
    rows = read_jsonl(out / "trl_unpaired.jsonl")
    assert Counter((r["source"], r["label"]) for r in rows) == {("won", True): 10, ("lost", False): 10, ("both_bad", False): 4}
    assert summary.counts["both_bad_rows"] == 4 and list(rows[0])[:3] == ["prompt", "completion", "label"]


def test_rewardbench_columns_and_min_agreement(tmp_path):
    out, summary = export(tmp_path, "rewardbench/min-agreement-jsonl")
    rows = read_jsonl(out / "rewardbench.jsonl")
    assert list(rows[0])[:7] == ["prompt", "chosen", "chosen_model", "rejected", "rejected_model", "subset", "id"]
    assert all(r["subset"] == "golden-pairs" and r["agreement"] >= 0.75 for r in rows)
    assert [r["id"] for r in rows] == list(range(len(rows))) and summary.counts["below_min_agreement"] >= 1


def test_pairwise_judgments_keep_ties_and_judges(tmp_path):
    out, summary = export(tmp_path, "pairwise-judgments/default")
    assert {r["outcome"] for r in read_jsonl(out / "pairwise_judgments.jsonl")} == {"a", "b", "tie", "both_bad"}
    out, summary = export(tmp_path, "pairwise-judgments/exclusions")
    rows = read_jsonl(out / "pairwise_judgments.jsonl")
    assert all(r["annotator"] != "a3" for r in rows) and summary.counts["excluded_annotator_judgments"] == 3
    assert summary.counts["speeder_judgments"] == 1 and summary.counts["qc_judgments"] == 0  # gold kept on request
    assert rows[0]["first_shown"] == "sys-a" and rows[0]["length_b"] == len("Four, because two plus two makes four.")


def test_raw_keeps_everything_and_flags_it(tmp_path):
    out, summary = export(tmp_path, "raw/default")
    rows = read_jsonl(out / "raw.jsonl")
    assert len(rows) == 15 and summary.counts["judgments"] == 15
    assert {r["unit_kind"] for r in rows} == {"regular", "gold"} and sum(r["annotator_excluded"] for r in rows) == 1


# --- splits -------------------------------------------------------------------------------------


def many_prompts_study(n: int = 400) -> PairStudy:
    s = PairStudy()
    for i in range(n):
        # two items share each prompt text: the split must keep them together
        for dup in ("x", "y"):
            ids = s.item(f"{dup}{i}", f"Prompt {i}", {"a": f"answer a{i}", "b": f"answer b{i}"})
            s.judge(f"{dup}{i}", ["a", "b"], "a1", {"choice": ids["a"]})
    return s


def test_split_by_prompt_never_puts_a_prompt_in_both_and_is_seeded(tmp_path):
    s = many_prompts_study()
    seen = {}
    for seed in (1, 2):
        out = tmp_path / f"seed{seed}"
        out.mkdir()
        run_exporter(get_exporter("trl-preference"), s.stream(), out, s.spec, {"test_size": 0.2, "seed": seed})
        train = {r["prompt"] for r in read_jsonl(out / "trl_preference" / "train.jsonl")}
        test = {r["prompt"] for r in read_jsonl(out / "trl_preference" / "test.jsonl")}
        assert not train & test and len(train | test) == 400
        assert 0.12 < len(test) / 400 < 0.28
        seen[seed] = test
        again = tmp_path / f"seed{seed}-again"
        again.mkdir()
        run_exporter(get_exporter("trl-preference"), s.stream(), again, s.spec, {"test_size": 0.2, "seed": seed})
        assert (again / "trl_preference" / "test.jsonl").read_bytes() == (out / "trl_preference" / "test.jsonl").read_bytes()
    assert seen[1] != seen[2]


def test_split_treats_equal_chat_prompts_as_one():
    splitter = Splitter(0.5, 7)
    a = [{"role": "user", "content": "Hi"}]
    assert prompt_key(a) == prompt_key([{"content": "Hi", "role": "user"}])
    assert splitter.split_of(a) == Splitter(0.5, 7).split_of([{"content": "Hi", "role": "user"}])


# --- options and the registry ----------------------------------------------------------------


@pytest.mark.parametrize("name,options,field", [
    ("trl-preference", {"aggregate": "mean"}, "options.aggregate"),
    ("trl-preference", {"ties": "half"}, "options.ties"),
    ("trl-preference", {"min_agreement": 2}, "options.min_agreement"),
    ("trl-preference", {"conversational": "yes"}, "options.conversational"),
    ("trl-preference", {"prompt": "none"}, "options.prompt"),
    ("trl-preference", {"separator": 3}, "options.separator"),
    ("trl-preference", {"file_format": "csv"}, "options.file_format"),
    ("trl-preference", {"test_size": 1}, "options.test_size"),
    ("trl-preference", {"seed": "x"}, "options.seed"),
    ("trl-preference", {"min_margin": -1}, "options.min_margin"),
    ("trl-preference", {"aspect": 3}, "options.aspect"),
    ("trl-preference", {"exclude_annotators": "a1"}, "options.exclude_annotators"),
    ("trl-preference", {"exclude_speeders": "yes"}, "options.exclude_speeders"),
    ("trl-preference", {"include_excluded_annotators": 1}, "options.include_excluded_annotators"),
    ("trl-preference", {"colour": "red"}, "options.colour"),
    ("trl-unpaired", {"aggregate": "bt"}, "options.aggregate"),
    ("trl-unpaired", {"both_bad": "positive"}, "options.both_bad"),
    ("rewardbench", {"aggregate": "none"}, "options.aggregate"),
    ("rewardbench", {"subset": 5}, "options.subset"),
    ("pairwise-judgments", {"aspects": "all"}, "options.aspects"),
    ("raw", {"include_qc_units": "no"}, "options.include_qc_units"),
])
def test_bad_options_are_refused_by_name(name, options, field):
    with pytest.raises(FormatError) as caught:
        get_exporter(name).parse_options(options)
    assert caught.value.field == field


@pytest.mark.parametrize("name", sorted(all_exporters()))
def test_every_exporter_writes_what_it_declares_or_refuses_clearly(tmp_path, name):
    study = golden_study()
    try:
        summary = run_exporter(get_exporter(name), study.stream(), tmp_path, study.spec, {})
    except FormatError as exc:  # e.g. an MQM format given a pairwise study
        assert exc.field and exc.message
        return
    assert (tmp_path / "README.md").is_file()
    for schema in summary.files:
        assert (tmp_path / schema.path).is_file(), schema.path
        assert f"`{schema.path}`" in (tmp_path / "README.md").read_text()


# --- streaming -------------------------------------------------------------------------------


def endless(n: int) -> Iterator:
    """n judgments over n/3 two-candidate items, built lazily."""
    s = PairStudy()
    ids = s.item("seed", "p", {"a": "x" * 200, "b": "y" * 300})
    template = s.judge("seed", ["a", "b"], "a1", {"choice": ids["a"]})
    tie = s.judge("seed", ["b", "a"], "a2", {"choice": "tie"})
    for k in range(n):
        base = template if k % 3 else tie
        yield dataclasses.replace(base, annotation_id=k, unit_id=k // 3, item_id=f"item-{k // 3}", prompt=f"Prompt {k // 3}",
                                  annotator=f"a{k % 3}")


@pytest.mark.parametrize("name,options", [
    ("trl-preference", {"file_format": "parquet"}), ("trl-preference", {"aggregate": "majority"}), ("raw", {}),
    ("pairwise-judgments", {}), ("trl-unpaired", {"test_size": 0.1}),
])
def test_memory_does_not_grow_with_the_stream(tmp_path, monkeypatch, name, options):
    from exports.formats import parquet_writer

    monkeypatch.setattr(parquet_writer, "ROWS_PER_GROUP", 1000)  # a Parquet row group is the one buffer
    spec = PairStudy().spec

    def peak(n: int) -> int:
        out = tmp_path / f"{name}-{n}"
        out.mkdir()
        tracemalloc.start()
        run_exporter(get_exporter(name), endless(n), out, spec, options)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    small, large = peak(3_000), peak(30_000)
    assert large < small * 1.5 + 2_000_000, (small, large)


def test_pairs_are_derived_from_likert_scores_with_a_minimum_margin(tmp_path):
    s = StudyBuilder("likert", {"aspects": [{"name": "helpfulness", "scale": [1, 5]}]})
    s.spec.update(slug="likert-pairs", name="Rate the answers")
    ids = s.item("q1", "Explain tides.", {"m1": "The moon pulls the sea.", "m2": "Magic.", "m3": "Gravity of moon and sun."})
    for annotator, ratings in (("a1", {"m1": 5, "m2": 1, "m3": 4}), ("a2", {"m1": 4, "m2": 2, "m3": 4})):
        for system, value in ratings.items():
            s.judge("q1", [system], annotator, {"ratings": {str(ids[system]): {"helpfulness": value}}})
    rows = sorted(s.rows, key=lambda r: (r.unit_id, r.annotation_id))  # one item: contiguous
    summary = run_exporter(get_exporter("trl-preference"), iter(rows), tmp_path, s.spec, {"min_margin": 1})
    got = [(r["chosen_system"], r["rejected_system"], r["margin"], r["votes_chosen"]) for r in read_jsonl(tmp_path / "trl_preference.jsonl")]
    # means: m1 4.5, m3 4.0, m2 1.5 -> m1>m2 (3.0), m3>m2 (2.5); m1-m3 (0.5) is under the margin
    assert got == [("m1", "m2", 3.0, None), ("m3", "m2", 2.5, None)]
    assert summary.counts["derived_pairs"] == 2 and "derived from the `helpfulness` scores" in (tmp_path / "README.md").read_text()
    assert "annotator" not in read_jsonl(tmp_path / "trl_preference.jsonl")[0]


# --- streaming statistics ------------------------------------------------------------------------


def test_streaming_agreement_equals_prefstats_on_the_same_judgments():
    """The card's figures, gathered a unit at a time, equal prefstats' on all the data at once."""
    import numpy as np

    from exports.formats.stats import StreamStats, _Interval
    from prefstats import krippendorff_alpha, pairwise_agreement

    rng = np.random.default_rng(3)
    s = PairStudy({"allow_tie": True, "allow_both_bad": True})
    raters = ["a1", "a2", "a3", "a4"]
    labels = {"a": 0.0, "b": 1.0, "tie": 2.0, "both_bad": 3.0}
    matrix = np.full((len(raters), 60), np.nan)
    unit_of, label_of = [], []
    for u in range(60):
        ids = s.item(f"q{u}", f"p{u}", {"x": "short", "y": "longer text"})
        for r, rater in enumerate(raters[: rng.integers(1, 5)]):
            outcome = rng.choice(["a", "a", "b", "tie", "both_bad"])
            choice = {"a": ids["x"], "b": ids["y"]}.get(outcome, outcome)
            s.judge(f"q{u}", ["x", "y"], rater, {"choice": choice})
            matrix[r, u] = labels[outcome]
            unit_of.append(u)
            label_of.append(outcome)
    stats = StreamStats()
    for _ in stats.tap(s.stream()):
        pass
    agree, total, _ = stats.agreement()
    assert agree / total == pytest.approx(pairwise_agreement(np.array(unit_of), np.array(label_of)))
    figures = stats.figures()
    assert float(figures["Krippendorff's alpha (nominal, pairwise outcomes)"]) == pytest.approx(krippendorff_alpha(matrix, "nominal"), abs=5e-4)

    interval = _Interval()
    scores = rng.integers(1, 6, size=(3, 40)).astype(float)
    scores[rng.random(scores.shape) < 0.3] = np.nan
    for column in scores.T:
        interval.add([v for v in column if not np.isnan(v)])
    assert interval.alpha() == pytest.approx(krippendorff_alpha(scores, "interval"))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@given(JSON_VALUES)
def test_the_jsonl_encoder_writes_what_json_writes(value):
    """exports.formats.jsonl keeps one C encoder instead of JSONEncoder.encode's one per call:
    the text must stay json's, to the byte."""
    from exports.formats import jsonl

    reference = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode(value)
    assert jsonl._encode(value) == reference
    if isinstance(value, dict) and value:
        assert jsonl.fragment(value) == reference[1:-1]


@pytest.mark.parametrize("build,options", [
    (golden_study, {}),
    (golden_study, {"prompt": "implicit"}),
    (golden_study, {"prompt": "implicit", "separator": " || ", "aggregate": "majority"}),
    (golden_study, {"aggregate": "bt", "conversational": True}),
    (chat_study, {}),
    (chat_study, {"prompt": "implicit"}),
    (chat_study, {"conversational": False, "prompt": "implicit"}),
])
def test_trl_jsonl_lines_are_the_parquet_rows_as_json_writes_them(tmp_path, build, options):
    """The JSONL writer assembles each line from pieces encoded once per unit (texts) or per
    winner (pair columns); the Parquet writer takes whole records. Both must say the same:
    every line is exactly json's text of its own record, which is the Parquet row (columns in
    the same order; a vote margin is 2 in JSON, 2.0 in the float column)."""
    pq = pytest.importorskip("pyarrow.parquet")
    study = build()
    exporter = get_exporter("trl-preference")
    outs = {}
    for file_format in ("jsonl", "parquet"):
        outs[file_format] = tmp_path / file_format
        outs[file_format].mkdir()
        run_exporter(exporter, study.stream(), outs[file_format], study.spec, {**options, "file_format": file_format})
    table = pq.read_table(outs["parquet"] / "trl_preference.parquet")
    lines = (outs["jsonl"] / "trl_preference.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == table.num_rows > 0
    encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
    for line, row in zip(lines, table.to_pylist(), strict=True):
        record = json.loads(line)
        assert line == encoder.encode(record)
        assert list(record) == list(row) and record == row


@pytest.mark.parametrize("name", sorted(all_exporters()))
def test_every_format_loads_with_datasets_for_each_task_type_it_takes(tmp_path, name):
    """Whatever the format, `datasets.load_dataset(folder, config)` reads every configuration
    its card declares, with the rows the card counts (pairwise, Likert and MQM studies)."""
    datasets = pytest.importorskip("datasets")
    from exports.card import configs
    from tests.unit.test_formats_fixtures import mqm_study
    from tests.unit.test_formats_scores_long import likert_study

    loaded_any = False
    for build in (golden_study, likert_study, mqm_study):
        study = build()
        out = tmp_path / f"{name}-{study.spec['task_type']}"
        out.mkdir()
        try:
            summary = run_exporter(get_exporter(name), study.stream(), out, study.spec, {})
        except FormatError as exc:
            assert exc.field in ("format", "task_type"), exc  # the only refusal: a task type it does not export
            continue
        for config, files in configs([f for f in summary.files if f.loadable]).items():
            if all(schema.rows == 0 and not schema.path.endswith(".parquet") for schema in files):
                continue  # datasets reads no split out of a header-only CSV or an empty JSONL file
            loaded = datasets.load_dataset(str(out), config, cache_dir=str(tmp_path / "hf-cache"))
            for schema in files:
                if schema.rows is not None:
                    assert loaded[schema.split].num_rows == schema.rows, (config, schema.split)
            loaded_any = True
    assert loaded_any, f"{name}: no folder with rows to load"
