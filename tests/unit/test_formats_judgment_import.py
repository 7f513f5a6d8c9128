"""The judgment importers (pure): what records they make of a file, and the line and field
of the first bad row."""

import json

import pytest

from exports.formats import FormatError, all_judgment_importers, get_judgment_importer


def parse(name, text, **options):
    return list(type(get_judgment_importer(name))(**options).parse_judgments(text.splitlines(keepends=True)))


def test_registered_apart_from_item_formats():
    from exports.formats import all_importers

    assert set(all_judgment_importers()) == {"pairwise-labels", "pairwise-judgments", "scores-long"}
    assert not set(all_judgment_importers()) & set(all_importers())


def test_pairwise_labels_csv_and_jsonl_with_aspects():
    csv_text = "item_id,system_a,system_b,winner,rater,aspect,strength\nq1,x,y,b,r1,,2\nq1,x,y,a,r1,fluency,\nq1,x,y,tie,r2,,\n"
    (one, two) = parse("pairwise-labels", csv_text)
    assert one.answer == {"choice": "y", "strength": 2, "aspects": {"fluency": "x"}} and one.line == 2 and one.rater == "r1"
    assert two.answer == {"choice": "tie"} and two.systems == ("x", "y")
    jsonl = json.dumps({"item_id": 7, "system_a": "x", "system_b": "y", "winner": "x", "rater": "r1"}) + "\n"
    (rec,) = parse("pairwise-labels", jsonl)
    assert rec.item_id == "7" and rec.answer == {"choice": "x"}


def test_pairwise_judgments_rows_of_one_annotation_make_one_judgment():
    rows = [{"annotation_id": 5, "item_id": "q", "aspect": "", "system_a": "x", "system_b": "y", "outcome": "a", "strength": 1,
             "first_shown": "y", "annotator": "a3", "judges": []},
            {"annotation_id": 5, "item_id": "q", "aspect": "style", "system_a": "x", "system_b": "y", "outcome": "tie", "strength": 1,
             "first_shown": "y", "annotator": "a3"}]
    (rec,) = parse("pairwise-judgments", "".join(json.dumps(r) + "\n" for r in rows))
    assert rec.answer == {"choice": "x", "strength": 1, "aspects": {"style": "tie"}} and rec.first_shown == "y"


def test_scores_long_groups_an_items_rows_by_annotator():
    text = "item_id,system,annotator,aspect,score,doc_id\nq,x,r1,h,3,d\nq,y,r1,h,4,d\nq,x,r2,h,5,d\nz,x,r1,h,1,d\n"
    recs = parse("scores-long", text)
    assert [(r.item_id, r.rater, r.systems) for r in recs] == [("q", "r1", ("x", "y")), ("q", "r2", ("x",)), ("z", "r1", ("x",))]
    assert recs[0].answer == {"scores": {"x": {"h": 3.0}, "y": {"h": 4.0}}} and recs[0].lines == {"x": 2, "y": 3}


@pytest.mark.parametrize(
    ("name", "text", "line", "field"),
    [
        ("pairwise-labels", "item_id,system_a,system_b,winner\nq,x,y,a\n", 1, "rater"),
        ("pairwise-labels", "item_id,system_a,system_b,winner,rater,colour\nq,x,y,a,r,red\n", 1, "colour"),
        ("pairwise-labels", "item_id,system_a,system_b,winner,rater\nq,x,y,a,r\nq,x,x,a,r\n", 3, "system_b"),
        ("pairwise-labels", "item_id,system_a,system_b,winner,rater\nq,x,y,left,r\n", 2, "winner"),
        ("pairwise-labels", "item_id,system_a,system_b,winner,rater,aspect\nq,x,y,a,r,style\n", 2, "aspect"),
        ("pairwise-labels", '{"item_id": "q"\n', 1, "json"),
        ("scores-long", "item_id,system,annotator,aspect,score\nq,x,r,h,NaN\n", 2, "score"),
        ("scores-long", "item_id,system,annotator,aspect,score\nq,x,r,h,1\nq,x,r,h,2\n", 3, "aspect"),
        ("scores-long", "item_id,system,annotator,aspect,score\nq,x,r,h,1\nz,x,r,h,1\nq,y,r,h,2\n", 4, "item_id"),
    ],
)
def test_the_first_bad_row_is_named(name, text, line, field):
    with pytest.raises(FormatError) as exc:
        parse(name, text)
    assert (exc.value.line, exc.value.field) == (line, field)
