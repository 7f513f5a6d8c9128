"""Importers of preference pairs (TRL JSONL, hh-rlhf transcripts), CSV items and judge scores:
the hh-rlhf edge cases on a committed excerpt, round trips with the exporters, and one bad
input per validation error, each named by line and field."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest

from exports.formats import FormatError, get_exporter, get_importer
from exports.formats.judge_scores import parse_judge_scores
from exports.formats.preference_import import split_transcripts, transcript_messages
from exports.pipeline import run_exporter
from tests.unit.test_export_formats import PairStudy
from tests.unit.test_formats_fixtures import GOLDEN, _celery_in_process, _export_root  # noqa: F401

HH = GOLDEN / "hh_rlhf" / "harmless-base-test.excerpt.jsonl"


def hh_lines() -> list[str]:
    return HH.read_text(encoding="utf-8").splitlines(keepends=True)


def parse(name: str, lines) -> list:
    return list(get_importer(name).parse(lines))


def first_error(name: str, lines) -> FormatError:
    with pytest.raises(FormatError) as caught:
        parse(name, lines)
    return caught.value


# --- hh-rlhf transcripts -------------------------------------------------------------------


def test_hh_rlhf_split_gives_back_both_transcripts_exactly():
    originals = [json.loads(line) for line in hh_lines()]
    items = parse("trl-preference", hh_lines())
    assert len(items) == 8
    for item, original in zip(items, originals, strict=True):
        chosen, rejected = item.candidates
        assert item.prompt.endswith("\n\nAssistant:") and item.prompt.startswith("\n\nHuman:")
        assert item.prompt + chosen.text == original["chosen"]
        assert item.prompt + rejected.text == original["rejected"]
        assert (chosen.system, rejected.system) == ("chosen", "rejected")
        assert item.meta["original"] == {"chosen": "chosen", "rejected": "rejected"}


def test_hh_rlhf_edge_cases():
    items = {item.line: item for item in parse("trl-preference", hh_lines())}
    # lines 2-4 of the excerpt: the chosen reply is empty (the transcript ends "Assistant: ")
    for line in (2, 3, 4):
        assert items[line].candidates[0].text.strip() == "" and items[line].candidates[1].text.strip()
    # line 6: the rejected transcript runs on for more turns ("  Human: ..." then "\n\nAssistant:"):
    # they belong to its reply, and the prompt ends at the last turn both share
    chosen, rejected = items[6].candidates
    assert "\n\nAssistant:" in rejected.text and "\n\nAssistant:" not in chosen.text
    assert items[6].prompt.count("\n\nAssistant:") == 1
    # line 7: the chosen one runs on instead
    assert "\n\nAssistant:" in items[7].candidates[0].text and "\n\nAssistant:" not in items[7].candidates[1].text
    # line 8: both replies start alike (" Human: Okay, so"): the shared start stays in the replies
    assert items[8].prompt.endswith("Yes, I have that.\n\nAssistant:")
    assert all(c.text.startswith(" Human: Okay, so") for c in items[8].candidates)
    # line 5: "Human:" inside a reply, without the blank line before it, is text of the reply
    assert "  Human: Then how" in items[5].candidates[0].text


def test_hh_rlhf_as_chat():
    items = parse("hh-rlhf", hh_lines())
    first = items[0]
    roles = [m["role"] for m in first.prompt]
    assert roles[0] == "user" and roles[-1] == "user" and all(a != b for a, b in pairwise(roles))
    assert not first.candidates[0].text.startswith(" ")
    assert items[1].candidates[0].text == ""  # the empty reply stays empty


def test_split_transcripts_rules():
    assert split_transcripts("\n\nHuman: hi\n\nAssistant: yo", "\n\nHuman: hi\n\nAssistant: hey") == ("\n\nHuman: hi\n\nAssistant:", " yo", " hey")
    # a shared start of the replies stays in the replies
    assert split_transcripts("\n\nHuman: q\n\nAssistant: I do", "\n\nHuman: q\n\nAssistant: I don't")[0] == "\n\nHuman: q\n\nAssistant:"
    with pytest.raises(ValueError, match="share no"):
        split_transcripts("\n\nHuman: a\n\nAssistant: x", "\n\nHuman: b\n\nAssistant: y")
    assert transcript_messages("\n\nHuman: a\n\nAssistant: b\n\nHuman: c\n\nAssistant:") == [
        {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]


def test_trl_forms():
    rows = [
        {"prompt": "Q?", "chosen": "yes", "rejected": "no", "chosen_system": "m1", "rejected_system": "m2", "id": "p1"},
        {"prompt": [{"role": "user", "content": "Hi"}], "chosen": [{"role": "assistant", "content": "Hello"}],
         "rejected": [{"role": "assistant", "content": "Go"}]},
        {"chosen": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
         "rejected": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Go"}], "score_chosen": 8, "score_rejected": 2},
    ]
    items = parse("trl-preference", [json.dumps(r) for r in rows])
    assert (items[0].id, items[0].prompt, [c.system for c in items[0].candidates]) == ("p1", "Q?", ["m1", "m2"])
    assert items[1].prompt == [{"role": "user", "content": "Hi"}] and items[1].candidates[0].text == "Hello"
    assert items[2].prompt == [{"role": "user", "content": "Hi"}] and items[2].id == "pair-3"
    assert items[2].candidates[0].judges == {"source_score": 8.0}


def test_trl_preference_export_imports_back(tmp_path):
    s = PairStudy({"allow_tie": True})
    ids = s.item("q1", "What is 2 + 2?", {"sys-a": "4", "sys-b": "five"})
    s.judge("q1", ["sys-a", "sys-b"], "a1", {"choice": ids["sys-a"]})
    ids = s.item("q2", "Name a colour.", {"sys-a": "Blue", "sys-b": "Loud"})
    s.judge("q2", ["sys-b", "sys-a"], "a1", {"choice": ids["sys-a"]})
    run_exporter(get_exporter("trl-preference"), s.stream(), tmp_path, s.spec, {"aggregate": "majority"})
    items = parse("trl-preference", (tmp_path / "trl_preference.jsonl").read_text().splitlines())
    assert [(i.prompt, i.candidates[0].system, i.candidates[0].text, i.candidates[1].text, i.meta["original"]["prompt_id"]) for i in items] == [
        ("What is 2 + 2?", "sys-a", "4", "five", "q1"), ("Name a colour.", "sys-a", "Blue", "Loud", "q2")]


PREFERENCE_ERRORS = [
    ('{"chosen": "x", "rejected": ', 1, "json"),
    ('{"rejected": "x"}', 1, "chosen"),
    ('{"chosen": "x"}', 1, "rejected"),
    ('{"chosen": "x", "rejected": [{"role": "assistant", "content": "y"}]}', 1, "rejected"),
    ('{"chosen": "\\n\\nHuman: a\\n\\nAssistant: x", "rejected": "\\n\\nHuman: b\\n\\nAssistant: y"}', 1, "chosen"),
    (('{"prompt": "q", "chosen": [{"role": "assistant", "content": "a"}, {"role": "user", "content": "b"}], '
      '"rejected": [{"role": "assistant", "content": "c"}]}'), 1, "chosen"),
    (('{"prompt": [{"role": "robot", "content": "q"}], "chosen": [{"role": "assistant", "content": "a"}], '
      '"rejected": [{"role": "assistant", "content": "b"}]}'), 1, "prompt[0].role"),
    ('{"prompt": "q", "chosen": 3, "rejected": "b"}', 1, "chosen"),
    ('{"prompt": "q", "chosen": "a", "rejected": "b", "score_chosen": "high"}', 1, "score_chosen"),
    ('{"prompt": "q", "chosen": "a", "rejected": "b", "chosen_system": ""}', 1, "chosen_system"),
    ('{"prompt": "q", "chosen": "a", "rejected": "b", "id": ""}', 1, "id"),
    ('{"prompt": "q", "chosen": "a\\u0000", "rejected": "b"}', 1, "chosen"),
    (('{"prompt": [{"role": "user", "content": "\\u0000"}], "chosen": [{"role": "assistant", "content": "a"}], '
      '"rejected": [{"role": "assistant", "content": "b"}]}'), 1, "prompt[0].content"),
    ('{"prompt": "q", "chosen": "a", "rejected": "b", "id": "x"}\n{"prompt": "q", "chosen": "a", "rejected": "b", "id": "x"}', 2, "id"),
    ('{"prompt": "q", "chosen": "a", "rejected": "b"}\n\n["not", "an", "object"]', 3, "row"),
]


@pytest.mark.parametrize("text,line,field", PREFERENCE_ERRORS)
def test_bad_preference_rows_are_named(text, line, field):
    error = first_error("trl-preference", text.splitlines(keepends=True))
    assert (error.line, error.field) == (line, field), str(error)


# --- CSV items -------------------------------------------------------------------------------

GOOD_CSV = """id,prompt,system,text,judges.comet,judges.rm/sky,doc_id,meta
ex-1,Translate: Hallo,sys-a,Hello,0.82,1.5,d1,"{""lang"": ""de""}"
ex-1,Translate: Hallo,sys-b,"Hi, there",0.79,,d1,"{""lang"": ""de""}"
ex-2,"[{""role"": ""user"", ""content"": ""Hi""}]",sys-a,"two
lines",,,d1,
ex-2,"[{""role"": ""user"", ""content"": ""Hi""}]",sys-b,Hey,0.5,,d1,
"""


def test_csv_items():
    items = parse("csv", GOOD_CSV.splitlines(keepends=True))
    assert [i.id for i in items] == ["ex-1", "ex-2"]
    first, second = items
    assert first.meta == {"lang": "de"} and first.doc_id == "d1"
    assert [(c.system, c.text, dict(c.judges)) for c in first.candidates] == [
        ("sys-a", "Hello", {"comet": 0.82, "rm/sky": 1.5}), ("sys-b", "Hi, there", {"comet": 0.79})]
    assert second.prompt == [{"role": "user", "content": "Hi"}] and second.candidates[0].text == "two\nlines"
    assert second.line == 4  # the row after a two-line quoted field


HEADER = "id,prompt,system,text,judges.comet\n"
CSV_ERRORS = [
    ("id,prompt,text\nx,p,t\n", 1, "system"),
    (HEADER.replace("\n", ",colour\n") + "x,p,s,t,1,red\n", 1, "colour"),
    ("id,id,prompt,system,text\n", 1, "header"),
    (HEADER + "x,p,s,t\n", 2, "row"),
    (HEADER + "x,p,s,t,lots\n", 2, "judges.comet"),
    (HEADER + "x,p,s,t,inf\n", 2, "judges.comet"),
    (HEADER + "x,p,s,t,1\nx,other prompt,s2,t,1\n", 3, "prompt"),
    (HEADER + "x,p,s,t,1\nx,p,s,t2,1\n", 3, "system"),
    (HEADER + "x,p,,t,1\n", 2, "system"),
    (HEADER + "x,p,s,t,1\ny,p,s,t,1\nx,p,s2,t,1\n", 4, "id"),
    ("id,prompt,system,text,meta\nx,p,s,t,{oops\n", 2, "meta"),
    ("id,prompt,system,text,meta\nx,p,s,t,[1]\n", 2, "meta"),
]


@pytest.mark.parametrize("text,line,field", CSV_ERRORS)
def test_bad_csv_rows_are_named(text, line, field):
    error = first_error("csv", text.splitlines(keepends=True))
    assert (error.line, error.field) == (line, field), str(error)


# --- judge scores ------------------------------------------------------------------------------


def test_judge_scores_csv_and_jsonl():
    csv_rows = list(parse_judge_scores("item_id,system,judge,score\nex-1,sys-a,comet,0.8\nex-1,sys-b,comet,-1e-3\n".splitlines(True), "csv"))
    assert [(r.item_id, r.system, r.judge, r.score, r.line) for r in csv_rows] == [
        ("ex-1", "sys-a", "comet", 0.8, 2), ("ex-1", "sys-b", "comet", -0.001, 3)]
    jsonl = list(parse_judge_scores(['{"item_id": 7, "system": "s", "judge": "bleu", "score": 31}\n'], "jsonl"))
    assert (jsonl[0].item_id, jsonl[0].score) == ("7", 31.0)
    # no item id: a system-level score
    system = list(parse_judge_scores("item_id,system,judge,score\n,sys-a,bleu,31.2\n".splitlines(True), "csv"))
    assert [(r.item_id, r.system, r.score) for r in system] == [("", "sys-a", 31.2)]
    assert list(parse_judge_scores(['{"system": "s", "judge": "bleu", "score": 3}\n'], "jsonl"))[0].item_id == ""


SCORE_ERRORS = [
    ("csv", "item_id,system,score\n", 1, "judge"),
    ("csv", "item_id,system,judge,score,colour\n", 1, "colour"),
    ("csv", "item_id,system,judge,score\nx,s,j\n", 2, "row"),
    ("csv", "item_id,system,judge,score\nx,s,j,high\n", 2, "score"),
    ("csv", "item_id,system,judge,score\nx,s,j,nan\n", 2, "score"),
    ("csv", "item_id,system,judge,score\n  ,s,j,1\n", 2, "item_id"),  # blank, not empty (empty: system level)
    ("csv", "item_id,system,judge,score\n,s,j,1\n,s,j,2\n", 3, "judge"),
    ("csv", "item_id,system,judge,score\nx,s,j,1\n\nx,s,j,2\n", 4, "judge"),
    ("jsonl", '{"item_id": "x", "system": "s", "judge": "j", "score": 1}\n{"item_id": "x"', 2, "json"),
    ("jsonl", '{"item_id": "x", "system": "s", "judge": "j", "score": true}\n', 1, "score"),
    ("jsonl", '{"item_id": "x", "system": "s", "judge": "j", "score": 1, "note": "?"}\n', 1, "note"),
    ("jsonl", '{"item_id": "x", "system": "s", "score": 1}\n', 1, "judge"),
    ("jsonl", "[1, 2]\n", 1, "row"),
]


@pytest.mark.parametrize("file_format,text,line,field", SCORE_ERRORS)
def test_bad_judge_score_rows_are_named(file_format, text, line, field):
    with pytest.raises(FormatError) as caught:
        list(parse_judge_scores(text.splitlines(keepends=True), file_format))
    assert (caught.value.line, caught.value.field) == (line, field), str(caught.value)


def test_shared_hh_rlhf_file_splits_everywhere(shared_hh):
    """Every pair of the real file (2,312) splits into a prompt both transcripts share."""
    import gzip

    with gzip.open(shared_hh, "rt", encoding="utf-8") as fh:
        items = list(get_importer("trl-preference").parse(fh))
    assert len(items) == 2312
    with gzip.open(shared_hh, "rt", encoding="utf-8") as fh:
        for item, line in zip(items, fh, strict=True):
            original = json.loads(line)
            assert item.prompt + item.candidates[0].text == original["chosen"]
            assert item.prompt + item.candidates[1].text == original["rejected"]
    assert sum(1 for i in items if not i.candidates[0].text.strip()) >= 4  # the empty chosen replies


@pytest.fixture
def shared_hh() -> Path:
    path = Path(__file__).resolve().parents[3] / "shared" / "data" / "hh-rlhf" / "harmless-base" / "test.jsonl.gz"
    if not path.is_file():
        pytest.skip(f"{path} is absent (a fresh clone has no ../shared); this test reads the real hh-rlhf file")
    return path
