"""Every importer fed malformed files (hypothesis: valid files cut, spliced, garbled, and plain
junk): the only failure is a refusal (Invalid) that names what is wrong (a line and field, or
the file), nothing of a refused file is stored, and nothing else is ever raised (no 500)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotation.errors import Invalid
from annotation.models import Annotation, Candidate, Item, Unit
from annotation.services import items_import, judgments_import
from exports.formats import all_importers
from exports.services import judge_scores_import
from tests.factories import make_study, make_user, pairwise_items

pytestmark = pytest.mark.django_db

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
EXAMPLES = 60

SEEDS = {
    "jsonl": "".join(json.dumps(i) + "\n" for i in pairwise_items(3, prefix="fz")),
    "csv": "id,prompt,system,text,judges.comet\nfz-1,Hello?,sys-a,Hi there,0.5\nfz-1,Hello?,sys-b,Hey,0.25\nfz-2,Bye?,sys-a,Bye,1\n"
           "fz-2,Bye?,sys-b,Ciao,\n",
    "trl-preference": "".join(json.dumps({"prompt": f"Q{i}?", "chosen": f"good {i}", "rejected": f"bad {i}"}) + "\n" for i in range(3)),
    "hh-rlhf": "".join((GOLDEN / "hh_rlhf" / "harmless-base-test.excerpt.jsonl").read_text().splitlines(keepends=True)[:3]),
    "mqm-tsv": (GOLDEN / "mqm_tsv" / "mqm.tsv").read_text(),
    "scores-csv": "item_id,system,judge,score\nit-0,sys-a,comet,0.9\nit-1,sys-b,comet,0.1\n",
    "scores-jsonl": json.dumps({"item_id": "it-0", "system": "sys-a", "judge": "rm", "score": 1.5}) + "\n",
}
CHARS = list('\x00\x07\x1b\u202e"\'\\{}[],:\t\n\r<>&;=-1e309NaN ') + ["\ufeff", "\ud7ff", "é", "😺"]
NASTY = st.text(alphabet=st.sampled_from(CHARS), max_size=40)


@st.composite
def mangled(draw, seed: str) -> str:
    text = seed
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["cut", "insert", "truncate", "dup_line", "drop_line", "junk"]))
        n = len(text)
        if op == "cut" and n:
            a = draw(st.integers(0, n - 1))
            text = text[:a] + text[a + draw(st.integers(1, 30)):]
        elif op == "insert":
            a = draw(st.integers(0, n))
            text = text[:a] + draw(NASTY) + text[a:]
        elif op == "truncate" and n:
            text = text[: draw(st.integers(0, n - 1))]
        elif op in ("dup_line", "drop_line"):
            lines = text.splitlines(keepends=True)
            if lines:
                i = draw(st.integers(0, len(lines) - 1))
                lines = lines[: i + 1] + lines[i:] if op == "dup_line" else lines[:i] + lines[i + 1:]
                text = "".join(lines)
        elif op == "junk":
            text = draw(st.text(max_size=200))
    return text


def counts(study) -> tuple[int, ...]:
    return (Item.objects.filter(study=study).count(), Candidate.objects.filter(item__study=study).count(),
            Unit.objects.filter(study=study).count(), Annotation.objects.filter(study=study).count(),
            sum(len(c.judges) for c in Candidate.objects.filter(item__study=study)))


def names_what_is_wrong(exc: Invalid) -> bool:
    return bool(exc.message) and bool(exc.errors) and all(
        key.startswith("line ") or key.split(".")[0].split("[")[0] in {"file", "format", "options", "mode", "id", "item_id", "system"}
        for key in exc.errors)


def check(run, study) -> None:
    before = counts(study)
    try:
        result = run()
    except Invalid as exc:
        assert names_what_is_wrong(exc), (exc.message, exc.errors)
        assert counts(study) == before, f"a refused file left rows behind: {exc.message}"
    else:
        assert isinstance(result, dict)


def test_every_item_importer_has_a_seed():
    assert set(all_importers()) <= set(SEEDS), f"add a valid sample for {sorted(set(all_importers()) - set(SEEDS))} to SEEDS"


FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@pytest.mark.parametrize("format_name", sorted(all_importers()))
def test_item_importers_refuse_malformed_files_cleanly(format_name):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="fuzz", items=0, task_type="mqm" if format_name == "mqm-tsv" else "pairwise")
    assert isinstance(items_import(study=study, lines=SEEDS[format_name].splitlines(keepends=True), format_name=format_name), dict)

    @FUZZ
    @given(text=mangled(SEEDS[format_name]))
    def run(text):
        check(lambda: items_import(study=study, lines=text.splitlines(keepends=True), format_name=format_name), study)

    run()


def test_judgments_import_refuses_malformed_files_cleanly():
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="fuzz-mqm", items=0, task_type="mqm")

    @FUZZ
    @given(text=mangled(SEEDS["mqm-tsv"]), mode=st.sampled_from(["annotations", "gold"]))
    def run(text, mode):
        check(lambda: judgments_import(study=study, lines=text.splitlines(keepends=True), format_name="mqm-tsv", mode=mode), study)

    run()


@pytest.mark.parametrize("format_name", ["csv", "jsonl"])
def test_judge_score_imports_refuse_malformed_files_cleanly(format_name):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="fuzz-scores", items=3)

    @FUZZ
    @given(text=mangled(SEEDS[f"scores-{format_name}"]))
    def run(text):
        check(lambda: judge_scores_import(study=study, lines=text.splitlines(keepends=True), format_name=format_name), study)

    run()


def test_a_nul_in_a_judge_name_is_refused():
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="nul-judge", items=1)
    with pytest.raises(Invalid) as exc:
        judge_scores_import(study=study, lines=["item_id,system,judge,score\n", "it-0,sys-a,co\x00met,0.5\n"], format_name="csv")
    assert "line 2, judge" in exc.value.errors


# Judgments of items already in the study: (task type of the study, a valid file)
JUDGMENT_SEEDS = {
    "pairwise-labels": ("pairwise", ("item_id,system_a,system_b,winner,rater\nit-0,sys-a,sys-b,a,r1\nit-1,sys-b,sys-a,tie,r2\n"
                                     "it-1,sys-a,sys-b,sys-b,r1\n")),
    "pairwise-judgments": ("pairwise", "".join(json.dumps(r) + "\n" for r in [
        {"annotation_id": 1, "item_id": "it-0", "aspect": "", "system_a": "sys-a", "system_b": "sys-b", "outcome": "b",
         "winner": "sys-b", "strength": 1, "first_shown": "sys-b", "annotator": "a7"},
        {"annotation_id": 2, "item_id": "it-2", "aspect": "", "system_a": "sys-a", "system_b": "sys-b", "outcome": "tie",
         "winner": None, "strength": 1, "first_shown": "sys-a", "annotator": "a8"}])),
    "scores-long": ("likert", ("item_id,system,annotator,aspect,score\nit-0,sys-a,r1,overall,3.0\nit-0,sys-b,r1,overall,4\n"
                               "it-1,sys-a,r2,overall,1\n")),
}


def test_every_judgment_importer_has_a_seed():
    from exports.formats import all_judgment_importers

    assert set(all_judgment_importers()) <= set(JUDGMENT_SEEDS), f"add a valid sample for {sorted(set(all_judgment_importers()) - set(JUDGMENT_SEEDS))}"


@pytest.mark.parametrize("format_name", sorted(JUDGMENT_SEEDS))
def test_judgment_importers_refuse_malformed_files_cleanly(format_name):
    task_type, seed = JUDGMENT_SEEDS[format_name]
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="fuzz-judged", items=3, task_type=task_type)
    probe = make_study(owner, slug="fuzz-probe", items=3, task_type=task_type)
    assert judgments_import(study=probe, lines=seed.splitlines(keepends=True), format_name=format_name)["judgments"] > 0

    @FUZZ
    @given(text=mangled(seed))
    def run(text):
        check(lambda: judgments_import(study=study, lines=text.splitlines(keepends=True), format_name=format_name), study)

    run()
