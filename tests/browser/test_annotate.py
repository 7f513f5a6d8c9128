"""The annotator app and the researcher pages in a real browser (headless Chromium)."""

from __future__ import annotations

import json
import re
import zipfile
from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from annotation.models import Annotation, Candidate, Study
from annotation.services import items_import, study_set_status
from tests.factories import PASSWORD, add_annotator, make_study, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = "/tmp/trenchcoat-annotate.png"


# --- helpers --------------------------------------------------------------------------------


def sign_up_via_invite(page, study, username):
    page.goto(reverse("join", args=[study.invite_token]))
    page.fill("#id_signup-username", username)
    page.fill("#id_signup-password1", PASSWORD)
    page.fill("#id_signup-password2", PASSWORD)
    page.click("button:has-text('Sign up and join')")
    page.wait_for_url(f"**{reverse('study_annotate', args=[study.slug])}")


def sign_in(page, username):
    page.goto(reverse("login"))
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"**{reverse('home')}")


def open_annotate(page, study, username):
    sign_in(page, username)
    page.goto(reverse("study_annotate", args=[study.slug]))


def wait_for_unit(page, previous=None) -> str:
    """Wait until a unit other than `previous` is on screen; return its unit id."""
    page.wait_for_function(
        "prev => { const u = document.getElementById('unit');"
        " return u && !u.hidden && u.dataset.unitId && u.dataset.unitId !== prev; }",
        arg=previous,
    )
    return page.locator("#unit").get_attribute("data-unit-id")


def displayed(page) -> dict:
    out = {"prompt": page.locator("#prompt").inner_text()}
    for side in ("left", "right"):
        pane = page.locator(f".cand[data-side={side}]")
        out[side] = {"id": int(pane.get_attribute("data-candidate-id")), "text": pane.locator(".cand-body").inner_text()}
    return out


def import_items(study, items):
    items_import(study=study, lines=[json.dumps(i) for i in items])


def hosts(urls) -> set[str]:
    return {urlsplit(u).netloc for u in urls if urlsplit(u).scheme in ("http", "https", "ws", "wss")}


# --- (a) join, judge by keyboard, export --------------------------------------------------


def test_join_judge_with_the_keyboard_and_export(new_page, live_host, eager_tasks, tmp_path):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="kb", items=4, redundancy=1, instructions="Pick the **better** answer.")

    page = new_page()
    sign_up_via_invite(page, study, "annie")
    assert "Pick the better answer." in page.locator("#instructions").inner_text()

    # Left, right, left, right: with the digit keys and with the arrows.
    keys = ["1", "ArrowRight", "ArrowLeft", "2"]
    seen, unit_id = [], None
    for key in keys:
        unit_id = wait_for_unit(page, unit_id)
        shown = displayed(page)
        expect_side = "left" if key in ("1", "ArrowLeft") else "right"
        page.keyboard.press(key)
        assert page.locator(f".cand[data-side={expect_side}]").get_attribute("class").split().count("picked") == 1
        page.keyboard.press("Enter")
        seen.append((int(unit_id), expect_side, shown))
    page.wait_for_url(f"**{reverse('study_done', args=['kb'])}")
    assert "You judged 4 units" in page.locator("#done-count").inner_text()
    assert page.script_errors == []
    assert hosts(page.requested) == {live_host}

    stored = {a.unit_id: a for a in Annotation.objects.filter(study=study, annotator__username="annie")}
    assert len(stored) == 4
    for unit, side, shown in seen:
        annotation = stored[unit]
        other = "right" if side == "left" else "left"
        # The stored choice is the candidate that was on the side pressed, whatever the order.
        assert annotation.response["choice"] == shown[side]["id"]
        assert Candidate.objects.get(pk=shown[side]["id"]).text == shown[side]["text"]
        assert annotation.display_order == [shown["left"]["id"], shown["right"]["id"]]
        assert shown[other]["id"] != shown[side]["id"]
        assert annotation.duration_ms is not None and annotation.duration_ms > 0
    assert {s for _, s, _ in seen} == {"left", "right"}

    # The researcher exports trl-preference from the study page and downloads the zip.
    researcher = new_page()
    sign_in(researcher, "owner")
    researcher.click(f"a[href='{reverse('study_detail', args=['kb'])}']")
    assert "annie" in researcher.locator("#annotator-table").inner_text()
    researcher.select_option("#id_export_format", "trl-preference")
    researcher.click("button:has-text('Start export')")
    done_row = researcher.locator("#export-rows tr[data-status=done]")
    done_row.wait_for()
    with researcher.expect_download() as download_info:
        done_row.locator("a:has-text('Download')").click()
    archive = tmp_path / "export.zip"
    download_info.value.save_as(archive)
    with zipfile.ZipFile(archive) as zf:
        name = next(n for n in zf.namelist() if n.endswith("trl_preference.jsonl"))
        rows = [json.loads(line) for line in zf.read(name).decode().splitlines() if line.strip()]
        assert any(n.endswith("README.md") for n in zf.namelist())
    assert len(rows) == 4
    expected = {shown["prompt"]: (shown[side]["text"], shown["right" if side == "left" else "left"]["text"]) for _, side, shown in seen}
    for row in rows:
        assert (row["chosen"], row["rejected"]) == expected[row["prompt"]]
    assert researcher.script_errors == []


# --- (b) untrusted content stays text ------------------------------------------------------

PAYLOAD = (
    "Hello <script>window.__pwned=1</script> there\n"
    '<img src=x onerror="window.__pwned=1">\n'
    "[click me](http://evil.example/steal) and ![pixel](http://evil.example/pixel.png)\n"
    "<style>body { display: none }</style><iframe src=\"http://evil.example/\"></iframe>\n"
    "bell\u0007 escape\u001b[31m reversed \u202egnp.exe\n"
    "```html\n<script>window.__pwned=1</script>\n<img src=x onerror=\"window.__pwned=1\">\n```\n"
    "end"
)


def test_untrusted_content_is_shown_as_literal_text(new_page, live_host):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="xss", items=0, redundancy=1, task_config={"allow_both_bad": True})
    import_items(
        study,
        [
            {
                "id": "evil",
                "prompt": "Prompt: " + PAYLOAD,
                "reference": "Reference: <img src=x onerror=\"window.__pwned=1\">",
                "candidates": [{"system": "a", "text": "A: " + PAYLOAD}, {"system": "b", "text": "B: " + PAYLOAD}],
            },
            {
                "id": "evil-chat",
                "prompt": [{"role": "user", "content": PAYLOAD}, {"role": "assistant", "content": "<b>bold?</b>"}],
                "candidates": [{"system": "a", "text": PAYLOAD}, {"system": "b", "text": "fine"}],
            },
        ],
    )
    add_annotator(study, "ann")
    page = new_page()
    open_annotate(page, study, "ann")

    unit_id = None
    for _ in range(2):
        unit_id = wait_for_unit(page, unit_id)
        unit = page.locator("#unit")
        text = unit.inner_text()
        assert "<script>window.__pwned=1</script>" in text
        assert '<img src=x onerror="window.__pwned=1">' in text
        assert "[click me](http://evil.example/steal)" in text
        assert "<style>body { display: none }</style>" in text
        # No element came out of the data: only our own markup is inside the unit.
        assert page.locator("#unit script, #unit img, #unit a, #unit iframe, #unit style, #unit b").count() == 0
        # Control characters are visible markers, the code block is a code block.
        markers = page.locator("#unit .ctrl").all_inner_texts()
        assert {"\u2407", "\u241b", "U+202E"} <= set(markers)
        assert "<script>window.__pwned=1</script>" in page.locator("#unit .cand pre code").first.inner_text()
        assert page.evaluate("typeof window.__pwned") == "undefined"
        page.keyboard.press("x")
        page.keyboard.press("Enter")
    page.wait_for_url("**/done/")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert hosts(page.requested) == {live_host}, page.requested
    assert page.script_errors == []
    assert [a.response["choice"] for a in Annotation.objects.filter(study=study)] == ["both_bad", "both_bad"]


# --- (c) conversations, long candidates, screenshot -----------------------------------------

LONG_ANSWER = "Here is a long answer.\n\n" + "\n".join(f"Step {i}: keep going with the explanation." for i in range(1, 80)) + (
    "\n\n```python\ndef best(xs):\n    return max(xs, key=len)\n```\n\nThat is all."
)


def test_chat_prompt_and_long_candidate_scroll_while_keys_work(new_page):
    owner = make_user("owner", researcher=True)
    study = make_study(
        owner,
        slug="chat",
        items=0,
        redundancy=1,
        task_config={"allow_tie": True, "allow_both_bad": True, "randomize_order": False},
        instructions="## How to judge\n\nRead the **conversation**, then pick the reply that answers the last message best.\n\n- Correctness first\n- Then clarity",
    )
    import_items(
        study,
        [
            {
                "id": "c1",
                "prompt": [
                    {"role": "system", "content": "You are a careful assistant."},
                    {"role": "user", "content": "I need a Python function."},
                    {"role": "assistant", "content": "Sure. What should it do?"},
                    {"role": "user", "content": "Return the longest string of a list,\nand explain it step by step."},
                ],
                "candidates": [
                    {"system": "long", "text": LONG_ANSWER},
                    {"system": "short", "text": "```python\nmax(xs, key=len)\n```"},
                ],
            }
        ],
    )
    add_annotator(study, "ann")
    page = new_page()
    open_annotate(page, study, "ann")
    wait_for_unit(page)

    roles = page.locator("#prompt .chat .msg .role").all_inner_texts()
    assert [r.lower() for r in roles] == ["system", "user", "assistant", "user"]
    assert page.locator("#prompt .msg.role-user .bubble").nth(1).inner_text() == "Return the longest string of a list,\nand explain it step by step."
    assert page.locator(".cand[data-side=left] pre code").inner_text() == "def best(xs):\n    return max(xs, key=len)"

    page.screenshot(path=SCREENSHOT, full_page=False)

    long_pane = page.locator(".cand[data-side=left] .cand-body")
    metrics = long_pane.evaluate("el => ({scroll: el.scrollHeight, client: el.clientHeight})")
    assert metrics["scroll"] > metrics["client"] * 2  # it scrolls inside its own pane
    bar = page.locator(".choicebar")
    viewport = page.viewport_size

    def bar_visible():
        box = bar.bounding_box()
        return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"] + 1

    assert bar_visible()
    # Scroll with the keyboard, then with the wheel over the pane: the page stays put.
    page.keyboard.press("ArrowDown")
    page.keyboard.press("PageDown")
    assert long_pane.evaluate("el => el.scrollTop") > 0
    long_pane.hover()
    page.mouse.wheel(0, 2000)
    page.wait_for_function("() => { const el = document.querySelector('.cand[data-side=left] .cand-body'); return el.scrollTop + el.clientHeight >= el.scrollHeight - 2; }")
    assert bar_visible()

    right_id = int(page.locator(".cand[data-side=right]").get_attribute("data-candidate-id"))
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    page.wait_for_url("**/done/")
    assert Annotation.objects.get(study=study).response["choice"] == right_id
    assert page.script_errors == []


# --- strength, aspects, rationale ----------------------------------------------------------


def test_strength_aspects_and_rationale_by_keyboard(new_page):
    owner = make_user("owner", researcher=True)
    config = {"strength_scale": [-3, 3], "aspects": ["helpfulness", "honesty"], "rationale": "required", "allow_tie": True}
    study = make_study(owner, slug="rich", items=1, redundancy=1, task_config=config)
    add_annotator(study, "ann")
    page = new_page()
    open_annotate(page, study, "ann")
    wait_for_unit(page)
    shown = displayed(page)

    page.keyboard.press("?")
    help_text = page.locator("#help").inner_text()
    assert "Tie" in help_text and "Both are bad" not in help_text and "How much better" in help_text
    page.keyboard.press("Escape")
    assert page.locator("#help").is_hidden()

    page.keyboard.press("Enter")  # nothing chosen yet: refused, with a hint
    assert "Choose which response is better" in page.locator(".submit-hint").inner_text()
    page.keyboard.press("x")  # both bad is not allowed here: ignored
    page.keyboard.press("1")  # overall: A
    assert page.locator(".choice-row.current").get_attribute("data-row") == "strength"
    page.keyboard.press("3")  # much better
    page.keyboard.press("ArrowRight")  # helpfulness: B
    page.keyboard.press("t")  # honesty: tie
    # Everything chosen: the required rationale takes the focus.
    assert page.evaluate("document.activeElement.tagName") == "TEXTAREA"
    page.keyboard.type("A is more complete.")
    page.keyboard.press("Enter")
    page.wait_for_url("**/done/")
    response = Annotation.objects.get(study=study).response
    assert response == {
        "choice": shown["left"]["id"],
        "strength": 3,
        "aspects": {"helpfulness": shown["right"]["id"], "honesty": "tie"},
        "rationale": "A is more complete.",
    }
    assert page.script_errors == []


def test_clicking_works_too(new_page):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="click", items=1, redundancy=1, task_config={"allow_tie": True})
    add_annotator(study, "ann")
    page = new_page()
    open_annotate(page, study, "ann")
    wait_for_unit(page)
    assert page.locator(".submit-box button").is_disabled()
    page.click(".choice-row button:has-text('Tie')")
    page.click(".submit-box button")
    page.wait_for_url("**/done/")
    assert Annotation.objects.get(study=study).response["choice"] == "tie"


# --- robustness ------------------------------------------------------------------------------


def test_a_lost_response_is_retried_with_the_same_key_and_stored_once(new_page):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="net", items=2, redundancy=1)
    add_annotator(study, "ann")
    page = new_page()
    sent = []

    def flaky(route):
        sent.append(json.loads(route.request.post_data))
        if len(sent) == 1:
            route.fetch()  # the server stores the judgment...
            route.abort("connectionreset")  # ...but the answer never reaches the browser
        elif len(sent) == 2:
            route.abort("internetdisconnected")  # and the first retry fails outright
        else:
            route.continue_()

    page.route(re.compile(r".*/api/v1/assignments/\d+/submit/.*"), flaky)
    open_annotate(page, study, "ann")
    first = wait_for_unit(page)
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    second = wait_for_unit(page, first)  # shown at once: it was fetched in advance
    assert second != first
    page.wait_for_selector("#annotate-app[data-pending='0']")  # the judgment reached the server
    assert len(sent) == 3
    assert len({s["idempotency_key"] for s in sent}) == 1
    assert len({json.dumps(s["response"]) for s in sent}) == 1
    assert len({s["duration_ms"] for s in sent}) == 1
    assert Annotation.objects.filter(study=study).count() == 1
    assert page.locator("#notice").is_hidden()
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    page.wait_for_url("**/done/")
    assert Annotation.objects.filter(study=study).count() == 2
    assert len({s["idempotency_key"] for s in sent}) == 2


def test_the_following_unit_shows_before_the_server_answers(new_page):
    """The page fetches the following unit in advance: answering shows it at once, while the
    judgment is still on its way (here held back for a while), and nothing is lost."""
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="ahead", items=3, redundancy=1)
    add_annotator(study, "ann")
    page = new_page()
    held = []

    def slow(route):
        held.append(route)  # answered later, by hand

    page.route(re.compile(r".*/api/v1/assignments/\d+/submit/.*"), slow)
    open_annotate(page, study, "ann")
    first = wait_for_unit(page)
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    second = wait_for_unit(page, first)
    assert second != first
    page.wait_for_function("() => document.getElementById('annotate-app').dataset.pending === '1'")
    assert Annotation.objects.filter(study=study).count() == 0  # not stored yet, but on screen already
    assert len(held) == 1
    page.unroute(re.compile(r".*/api/v1/assignments/\d+/submit/.*"))  # lets the held request through
    page.wait_for_selector("#annotate-app[data-pending='0']")
    assert Annotation.objects.filter(study=study).count() == 1
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    third = wait_for_unit(page, second)  # the answer to the first submit brought it in advance
    assert third not in (first, second)
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    page.wait_for_url("**/done/")
    assert Annotation.objects.filter(study=study).count() == 3
    assert len({a.unit_id for a in Annotation.objects.filter(study=study)}) == 3


def test_reload_shows_the_same_unit(new_page):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="reload", items=3, redundancy=1)
    add_annotator(study, "ann")
    page = new_page()
    open_annotate(page, study, "ann")
    first = wait_for_unit(page)
    shown = displayed(page)
    page.reload()
    assert wait_for_unit(page) == first
    assert displayed(page) == shown


def test_paused_and_closed_studies_say_so(new_page):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="pause", items=2, redundancy=1)
    add_annotator(study, "ann")
    study_set_status(study=study, status="paused")
    page = new_page()
    open_annotate(page, study, "ann")
    notice = page.locator("#notice")
    notice.wait_for()
    assert "Annotation is paused" in notice.inner_text()
    assert "paused" in notice.inner_text()
    assert page.locator("#unit").is_hidden()

    study_set_status(study=Study.objects.get(pk=study.pk), status="live")
    page.click("#notice button:has-text('Try again')")
    first = wait_for_unit(page)
    assert notice.is_hidden()
    # Closed while the annotator works: the judgment in hand is stored, then the notice.
    study_set_status(study=Study.objects.get(pk=study.pk), status="closed")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    page.wait_for_function("() => !document.getElementById('notice').hidden")
    assert "This study is closed" in notice.inner_text()
    assert "closed" in notice.inner_text().split("\n", 1)[1]
    assert Annotation.objects.filter(study=study).count() == 1
    assert first


def test_instructions_toggle_with_i(new_page):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="instr", items=1, redundancy=1, instructions="Read <script>window.__pwned=1</script>**carefully**.")
    add_annotator(study, "ann")
    page = new_page()
    open_annotate(page, study, "ann")
    wait_for_unit(page)
    details = page.locator("#instructions")
    assert details.get_attribute("open") is not None
    assert page.locator("#instructions strong").inner_text() == "carefully"
    page.keyboard.press("i")
    assert details.get_attribute("open") is None
    assert page.evaluate("typeof window.__pwned") == "undefined"
