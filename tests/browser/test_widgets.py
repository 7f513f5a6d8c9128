"""The Likert, MQM and rubric widgets in a real browser (headless Chromium).

Each test completes units with the keyboard (span selections with the mouse) and compares
the stored Annotation.response with exactly what it marked. Span offsets are code points on
the server and UTF-16 units in the browser: the texts put emoji and accented letters before
the spans, so a wrong conversion shows.
"""

from __future__ import annotations

import json

import pytest

from annotation.models import Annotation, Candidate
from annotation.services import items_import
from tests.browser.test_annotate import hosts, open_annotate, wait_for_unit
from tests.factories import add_annotator, make_study, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


# --- helpers --------------------------------------------------------------------------------


def import_items(study, items):
    items_import(study=study, lines=[json.dumps(i) for i in items])


def utf16(text: str, cp: int) -> int:
    """The UTF-16 offset of code point offset `cp` into text (what the browser counts)."""
    return len(text[:cp].encode("utf-16-le")) // 2


def span_of(text: str, needle: str, occurrence: int = 0) -> tuple[int, int]:
    """Code-point offsets [start, end) of `needle` in text."""
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(needle, start + 1)
    return start, start + len(needle)


# Screen points of the left edge of the first character and the right edge of the last one
# of text[start:end] (UTF-16 offsets) inside the element matched by `selector`.
EDGES_JS = """([selector, start, end]) => {
  const root = document.querySelector(selector);
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const nodes = [];
  let pos = 0;
  while (walker.nextNode()) { nodes.push([walker.currentNode, pos]); pos += walker.currentNode.length; }
  function charRect(offset, last) {
    for (const [node, at] of nodes) {
      if (offset >= at && offset < at + node.length) {
        const i = offset - at;
        const code = node.data.charCodeAt(i);
        const width = code >= 0xd800 && code <= 0xdbff ? 2 : 1;
        const range = document.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + width);
        const rects = range.getClientRects();
        return last ? rects[rects.length - 1] : rects[0];
      }
    }
    throw new Error("no character at " + offset);
  }
  let lastChar = end - 1;
  const text = nodes.map(([n]) => n.data).join("");
  const code = text.charCodeAt(lastChar);
  if (code >= 0xdc00 && code <= 0xdfff) lastChar -= 1;
  const a = charRect(start, false);
  const b = charRect(lastChar, true);
  return {x1: a.left + 1, y1: a.top + a.height / 2, x2: b.right - 1, y2: b.top + b.height / 2, text: text.slice(start, end)};
}"""


def drag_select(page, selector: str, text: str, needle: str, occurrence: int = 0) -> tuple[int, int]:
    """Select `needle` in the element with the mouse, as a person would; return its
    code-point span in `text` (which must be the element's text)."""
    start, end = span_of(text, needle, occurrence)
    edges = page.evaluate(EDGES_JS, [selector, utf16(text, start), utf16(text, end)])
    assert edges["text"] == needle
    page.mouse.move(edges["x1"], edges["y1"])
    page.mouse.down()
    page.mouse.move((edges["x1"] + edges["x2"]) / 2, (edges["y1"] + edges["y2"]) / 2, steps=3)
    page.mouse.move(edges["x2"], edges["y2"], steps=3)
    page.mouse.up()
    return start, end


def hint(page) -> str:
    return page.locator(".submit-hint").inner_text()


def stored(study) -> dict[int, dict]:
    """Stored responses by the (single) candidate id of their unit."""
    return {a.display_order[0]: a.response for a in Annotation.objects.filter(study=study)}


def candidate_id(study, text: str) -> int:
    return Candidate.objects.get(item__study=study, text=text).id


# --- Likert ---------------------------------------------------------------------------------

LIKERT_CONFIG = {
    "aspects": [
        {"name": "helpfulness", "scale": [1, 5], "labels": {"1": "useless", "3": "okay", "5": "excellent"}},
        {"name": "correctness", "scale": [0, 4]},
        {"name": "overall", "scale": [0, 100], "labels": {"0": "unusable", "50": "fair", "100": "perfect"}},
    ]
}


def test_likert_one_candidate_with_keys_and_a_slider(new_page, live_host):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="lik", items=0, redundancy=1, task_type="likert", task_config=LIKERT_CONFIG)
    answers = {"A concise answer. ✓": None, "A longer answer, with détails.": None}
    import_items(study, [{"id": "q1", "prompt": "Explain BM25 briefly.", "candidates": [{"system": s, "text": t} for s, t in zip("ab", answers)]}])
    add_annotator(study, "ann")
    page = new_page()
    open_annotate(page, study, "ann")

    unit = wait_for_unit(page)
    page.keyboard.press("?")
    help_text = page.locator("#help").inner_text()
    assert "helpfulness" in help_text and "Slider" in help_text
    page.keyboard.press("Escape")
    text = page.locator(".likert .cand-body").inner_text()
    rows = page.locator(".likert .rating-row")
    assert rows.count() == 3
    assert "useless" in rows.nth(0).inner_text() and "excellent" in rows.nth(0).inner_text()
    # Unit 1: digits for the button scales, a typed number for the slider, Enter confirms:
    # every aspect answered, so the unit goes by itself.
    page.keyboard.press("4")
    assert page.locator(".rating-row.current").get_attribute("data-aspect") == "correctness"
    page.keyboard.press("9")  # not a point of 0..4: ignored
    page.keyboard.press("0")
    assert page.locator(".rating-row.current").get_attribute("data-aspect") == "overall"
    page.keyboard.press("7")
    page.keyboard.press("3")
    assert page.input_value(".rating-row.current .slider-number") == "73"
    page.keyboard.press("Enter")
    answers[text] = {"helpfulness": 4, "correctness": 0, "overall": 73}
    page.screenshot(path="/tmp/trenchcoat-likert.png")

    # Unit 2: Backspace goes back a row; the slider moves with the arrows (Shift: by 10).
    unit = wait_for_unit(page, unit)
    text = page.locator(".likert .cand-body").inner_text()
    page.keyboard.press("5")
    page.keyboard.press("Backspace")
    assert page.locator(".rating-row.current").get_attribute("data-aspect") == "helpfulness"
    page.keyboard.press("2")
    page.keyboard.press("4")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("ArrowLeft")
    assert page.input_value(".rating-row.current .slider-number") == "61"
    assert "Enter" in page.locator(".rating-row.current .slider-hint").inner_text()
    page.keyboard.press("Enter")
    answers[text] = {"helpfulness": 2, "correctness": 4, "overall": 61}
    page.wait_for_url("**/done/")

    got = stored(study)
    assert got == {candidate_id(study, t): {"ratings": {str(candidate_id(study, t)): r}} for t, r in answers.items()}
    assert page.script_errors == []
    assert hosts(page.requested) == {live_host}


def test_likert_side_by_side_with_position_keys_and_clicks(new_page):
    owner = make_user("owner", researcher=True)
    config = {
        "side_by_side": True,
        "randomize_order": False,
        "aspects": [
            {"name": "helpfulness", "scale": [1, 5]},
            {"name": "verbosity", "scale": [-2, 2], "labels": {"-2": "far too short", "0": "just right", "2": "far too long"}},
        ],
    }
    study = make_study(owner, slug="sbs", items=0, redundancy=1, task_type="likert", task_config=config)
    import_items(study, [{"id": "q", "prompt": "Name a prime.", "candidates": [{"system": "a", "text": "7"}, {"system": "b", "text": "Seven, which is prime."}]}])
    add_annotator(study, "ann")
    page = new_page()
    open_annotate(page, study, "ann")
    wait_for_unit(page)
    cards = page.locator(".likert .cand")
    assert cards.count() == 2
    left, right = (int(cards.nth(i).get_attribute("data-candidate-id")) for i in range(2))
    # Verbosity is -2..2: keys 1-5 pick the positions, shown on the buttons.
    assert "far too short" in cards.nth(0).locator(".rating-row[data-aspect=verbosity]").inner_text()
    page.keyboard.press("5")  # A helpfulness 5
    page.keyboard.press("3")  # A verbosity: third point, 0
    assert page.locator(".rating-row.current").get_attribute("data-candidate-id") == str(right)
    page.keyboard.press("2")  # B helpfulness 2
    page.screenshot(path="/tmp/trenchcoat-likert-side-by-side.png")
    cards.nth(1).locator(".rating-row[data-aspect=verbosity] button[data-value='2']").click()  # B verbosity 2 by mouse
    page.wait_for_url("**/done/")
    response = Annotation.objects.get(study=study).response
    assert response == {"ratings": {str(left): {"helpfulness": 5, "verbosity": 0}, str(right): {"helpfulness": 2, "verbosity": 2}}}
    assert page.script_errors == []


# --- MQM ------------------------------------------------------------------------------------

MQM_SOURCE = "The 👩‍🔬 scientist walked home quickly, said Zoë."
MQM_TARGET = "Café 🎉 — die Wissenschaftlerin ging schnell nach Hause, sagte Zoë."
MQM_CLEAN = "Die Wissenschaftlerin ging nach Hause."
MQM_UNTRANSLATED = "The scientist walked home <img src=x onerror=\"window.__pwned=1\">."
MQM_CONFIG = {"esa_score": True, "max_errors": 2, "severities": ["minor", "major", "critical", "neutral"]}
TARGET = ".mqm-text[data-side=target] .cand-body"
SOURCE = ".mqm-text[data-side=source] .cand-body"


def test_mqm_spans_by_mouse_categories_and_severities_by_keyboard(new_page, live_host):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="mqm", items=0, redundancy=1, task_type="mqm", task_config=MQM_CONFIG)
    import_items(
        study,
        [
            {"id": "s1", "prompt": MQM_SOURCE, "candidates": [{"system": "mt", "text": MQM_TARGET}], "reference": "Ein Verweis."},
            {"id": "s2", "prompt": "The scientist walked home.", "candidates": [{"system": "mt", "text": MQM_CLEAN}]},
            {"id": "s3", "prompt": "The scientist walked home.", "candidates": [{"system": "mt", "text": MQM_UNTRANSLATED}]},
        ],
    )
    add_annotator(study, "ann")
    page = new_page()
    open_annotate(page, study, "ann")
    expected = {}
    unit = None
    for _ in range(3):
        unit = wait_for_unit(page, unit)
        assert page.locator("#prompt-panel").is_hidden()  # the source is shown (and marked) by the widget
        target = page.locator(TARGET).inner_text()
        if target == MQM_TARGET:
            expected[target] = mark_several_errors(page)
        elif target == MQM_CLEAN:
            page.keyboard.press("0")
            assert page.locator("button.no-error").get_attribute("aria-pressed") == "true"
            page.keyboard.press("Enter")  # refused: the overall score is missing
            assert "overall score" in hint(page)
            page.keyboard.press("s")
            page.keyboard.type("90")
            page.keyboard.press("Enter")
            expected[target] = {"errors": [], "no_error": True, "score": 90}
        else:
            assert page.locator("#unit img").count() == 0
            page.keyboard.press("w")  # the one whole-segment category: straight to severity
            assert "Non-translation" in page.locator(".mqm-picker").inner_text()
            page.keyboard.press("j")
            assert page.locator(".mqm-error .where").text_content() == "whole segment"
            page.keyboard.press("s")
            page.keyboard.type("5")
            page.keyboard.press("Enter")
            error = {"start": 0, "end": 0, "side": "target", "category": "Non-translation", "severity": "major", "note": ""}
            expected[target] = {"errors": [error], "no_error": False, "score": 5}
    page.wait_for_url("**/done/")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    got = stored(study)
    assert got == {candidate_id(study, t): r for t, r in expected.items()}
    assert page.script_errors == []
    assert hosts(page.requested) == {live_host}


def mark_several_errors(page) -> dict:
    """On the unit with MQM_SOURCE / MQM_TARGET: mark, refuse, regrade, remove, edit."""
    assert page.locator(SOURCE).inner_text() == MQM_SOURCE
    assert "Ein Verweis." in page.locator("#reference").inner_text()
    picker = page.locator(".mqm-picker")

    # 1. A target span: type to filter, Enter picks the first match, J = major.
    drag_select(page, TARGET, MQM_TARGET, "ging schnell")
    assert picker.is_visible()
    assert page.evaluate("document.activeElement.classList.contains('picker-filter')")
    page.keyboard.type("mistr")
    assert page.locator(".picker-option").all_inner_texts() == ["Accuracy / Mistranslation"]
    page.keyboard.press("Enter")
    page.keyboard.press("j")
    assert picker.is_hidden()
    # The highlight is built from text nodes and holds exactly the selected text.
    assert page.locator(f"{TARGET} .mark").inner_text() == "ging schnell"
    drag_select(page, TARGET, MQM_TARGET, "schnell nach")  # overlaps it: refused
    assert picker.is_hidden() and "overlaps error 1" in hint(page)

    # 2. A source span, "Source error" offered first; a note (O) before the severity.
    source_span = drag_select(page, SOURCE, MQM_SOURCE, "quickly")
    assert page.locator(".picker-option").first.inner_text() == "Source error"
    page.keyboard.press("Enter")
    page.keyboard.press("o")
    page.keyboard.type("no comma in the source?")
    page.keyboard.press("Enter")  # no severity yet: the note is kept, the keys come back
    page.keyboard.press("m")
    assert page.locator(".mqm-error").count() == 2

    # 3. The cap (max_errors 2) refuses a third.
    drag_select(page, TARGET, MQM_TARGET, "Hause")
    assert picker.is_hidden() and "At most 2 errors" in hint(page)

    # 4. Tab selects the first error, C regrades it, Delete removes it.
    page.keyboard.press("Tab")
    assert page.locator(".mqm-error.selected .cat").inner_text() == "Accuracy/Mistranslation"
    page.keyboard.press("c")
    assert page.locator(".mqm-error.selected .sev-badge").inner_text() == "Critical"
    page.keyboard.press("Delete")
    assert page.locator(".mqm-error").count() == 1

    # 5. Now there is room: a span after the emoji, picked with the arrow keys.
    target_span = drag_select(page, TARGET, MQM_TARGET, "Hause")
    page.keyboard.type("fluency")
    page.keyboard.press("ArrowDown")
    assert page.locator(".picker-option.active").inner_text() == "Fluency / Spelling"
    page.screenshot(path="/tmp/trenchcoat-mqm.png")
    page.keyboard.press("Enter")
    assert "Fluency/Spelling" in picker.inner_text()
    page.keyboard.press("n")

    # 6. Edit it: E opens it, Backspace back to the categories, a new category and severity.
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.locator(".mqm-error.selected .cat").inner_text() == "Fluency/Spelling"
    page.keyboard.press("e")
    page.keyboard.press("Backspace")
    page.keyboard.type("punct")
    page.keyboard.press("Enter")
    page.keyboard.press("m")
    assert page.locator(".mqm-error").nth(1).inner_text().startswith("2\nMinor\nFluency/Punctuation")

    page.keyboard.press("0")  # errors are marked: "No error" is refused
    assert "remove them first" in hint(page)
    page.keyboard.press("Escape")
    page.keyboard.press("s")
    page.keyboard.type("35")
    page.screenshot(path="/tmp/trenchcoat-mqm-marked.png")
    page.keyboard.press("Enter")
    return {
        "errors": [
            {"start": source_span[0], "end": source_span[1], "side": "source", "category": "Source error", "severity": "minor", "note": "no comma in the source?"},
            {"start": target_span[0], "end": target_span[1], "side": "target", "category": "Fluency/Punctuation", "severity": "minor", "note": ""},
        ],
        "no_error": False,
        "score": 35,
    }


# --- rubric ---------------------------------------------------------------------------------

RUBRIC_TEXT = "Voilà — the naïve café ☕ 🙂 answer:\nThe capital of Australia is Canberra, not Sydney 🦘."
RUBRIC_ITEM_CRITERIA = [
    {"id": "answer", "text": "Gives the right capital", "weight": 2, "evidence": "required"},
    {"id": "polite", "text": "Is polite"},
    {"id": "detail", "text": "Level of detail", "scale": [0, 3], "evidence": "optional"},
]
RESPONSE = ".rubric .cand-body"


def test_rubric_per_item_criteria_with_evidence_spans(new_page, live_host):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="rub", items=0, redundancy=1, task_type="rubric", task_config={"criteria_source": "item"})
    import_items(
        study,
        [{"id": "r1", "prompt": "What is the capital of Australia?", "candidates": [{"system": "m", "text": RUBRIC_TEXT}], "meta": {"rubric": RUBRIC_ITEM_CRITERIA}}],
    )
    add_annotator(study, "ann")
    page = new_page()
    open_annotate(page, study, "ann")
    wait_for_unit(page)
    rows = page.locator(".crit-row")
    assert rows.count() == 3
    assert "Gives the right capital" in rows.nth(0).inner_text() and "evidence required" in rows.nth(0).inner_text()
    assert page.locator(".crit-row.current").get_attribute("data-criterion") == "answer"

    # Y answers the first criterion, which then waits for its evidence.
    page.keyboard.press("y")
    assert page.locator(".crit-row.current").get_attribute("data-criterion") == "answer"
    assert "Select the evidence" in hint(page)
    answer_span = drag_select(page, RESPONSE, RUBRIC_TEXT, "Canberra, not Sydney 🦘")
    assert page.locator(f"{RESPONSE} .mark").inner_text() == "Canberra, not Sydney 🦘"
    assert page.locator(".crit-row.current").get_attribute("data-criterion") == "polite"
    drag_select(page, RESPONSE, RUBRIC_TEXT, "Voilà")  # "polite" takes no evidence: refused
    assert "takes no evidence" in hint(page)
    assert page.locator(f"{RESPONSE} .mark").count() == 1
    page.keyboard.press("x")  # not a key of yes / partial / no: ignored
    page.keyboard.press("p")
    # Evidence first, then the value; Delete drops the evidence, a new selection replaces it.
    assert page.locator(".crit-row.current").get_attribute("data-criterion") == "detail"
    drag_select(page, RESPONSE, RUBRIC_TEXT, "answer")
    page.keyboard.press("Delete")
    assert "Evidence (optional)" in rows.nth(2).inner_text()
    detail_span = drag_select(page, RESPONSE, RUBRIC_TEXT, "naïve café ☕")
    page.keyboard.press("7")  # off the 0..3 scale: ignored
    page.keyboard.press("2")
    assert "Ready" in hint(page)
    page.screenshot(path="/tmp/trenchcoat-rubric.png")
    page.keyboard.press("Enter")
    page.wait_for_url("**/done/")

    response = Annotation.objects.get(study=study).response
    assert response == {
        "criteria": {
            "answer": {"value": "yes", "score": 1.0, "weight": 2, "evidence": {"start": answer_span[0], "end": answer_span[1]}},
            "polite": {"value": "partial", "score": 0.5, "weight": 1},
            "detail": {"value": 2, "score": 2 / 3, "weight": 1, "evidence": {"start": detail_span[0], "end": detail_span[1]}},
        }
    }
    assert RUBRIC_TEXT[answer_span[0]:answer_span[1]] == "Canberra, not Sydney 🦘"
    assert page.script_errors == []
    assert hosts(page.requested) == {live_host}


def test_rubric_study_criteria_with_a_wide_scale_and_navigation(new_page):
    owner = make_user("owner", researcher=True)
    criteria = [
        {"id": "fluent", "text": "Fluent", "scale": "ynp"},
        {"id": "score", "text": "Quality out of 10", "scale": [0, 10], "weight": 3},
        {"id": "safe", "text": "Safe <b>really</b>", "scale": "ynp", "weight": 0.5},
    ]
    study = make_study(owner, slug="rub2", items=0, redundancy=1, task_type="rubric", task_config={"criteria": criteria})
    import_items(study, [{"id": "x", "prompt": "Say hi.", "candidates": [{"system": "m", "text": "Hi there!"}]}])
    add_annotator(study, "ann")
    page = new_page()
    open_annotate(page, study, "ann")
    wait_for_unit(page)
    assert page.locator(".crit-row[data-criterion=safe] .crit-text").inner_text() == "3. Safe <b>really</b>×0.5"  # text, and its weight
    assert page.locator(".crit-row b").count() == 0
    page.keyboard.press("Enter")  # nothing answered: refused
    assert "Answer criterion 1" in hint(page)
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.locator(".crit-row.current").get_attribute("data-criterion") == "safe"
    page.keyboard.press("n")
    assert page.locator(".crit-row.current").get_attribute("data-criterion") == "fluent"  # the first one open
    page.keyboard.press("y")
    page.keyboard.press("1")
    page.keyboard.press("0")
    assert page.input_value(".crit-row.current input") == "10"
    page.keyboard.press("Enter")  # confirms the typed number; nothing open is left: stay
    assert page.locator(".crit-row.current").get_attribute("data-criterion") == "score"
    page.keyboard.press("Shift+Tab")
    assert page.locator(".crit-row.current").get_attribute("data-criterion") == "fluent"
    page.keyboard.press("Shift+Tab")  # wraps around
    page.keyboard.press("y")  # "safe" again: changed to yes
    page.keyboard.press("Enter")
    page.wait_for_url("**/done/")
    response = Annotation.objects.get(study=study).response
    assert {k: v["value"] for k, v in response["criteria"].items()} == {"fluent": "yes", "score": 10, "safe": "yes"}
    assert page.script_errors == []
