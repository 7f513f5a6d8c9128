"""`manage.py demo` loads one live study per task type, and the demo annotator can judge a
unit of each in the browser with the keyboard (and the mouse for a rubric evidence span)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from annotation.models import Annotation, Candidate, Study
from tests.browser.test_annotate import wait_for_unit
from tests.browser.test_widgets import drag_select

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in_demo(page):
    page.goto(reverse("login"))
    page.fill("#id_username", "annotator")
    page.fill("#id_password", "annotator-pass")
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"**{reverse('home')}")


def test_demo_loads_a_study_of_each_type_and_each_can_be_judged(new_page):
    out = io.StringIO()
    call_command("demo", stdout=out)
    call_command("demo", stdout=out)  # safe to run again
    assert "study demo-mqm (mqm): 10 items" in out.getvalue()
    studies = {s.slug: s for s in Study.objects.all()}
    assert {s.task_type for s in studies.values()} == {"pairwise", "likert", "mqm", "rubric"}
    assert all(s.status == "live" and s.items.count() > 0 for s in studies.values())
    assert studies["demo-mqm"].items.count() == 10
    assert all(i.candidates.count() == 1 for i in studies["demo-likert"].items.all())
    # Any unit may be served; none of the single-response demos shows an empty response.
    assert not Candidate.objects.filter(item__study__slug__in=["demo-likert", "demo-rubric"], text__regex=r"^\s*$").exists()

    page = new_page()
    sign_in_demo(page)
    home = page.locator("main").inner_text()
    assert all(s.name in home for s in studies.values())

    # Likert: four aspects, the last a slider; the unit goes once all are rated.
    page.goto(reverse("study_annotate", args=["demo-likert"]))
    wait_for_unit(page)
    for key in ("4", "2", "3", "7", "5", "Enter"):
        page.keyboard.press(key)
    page.screenshot(path="/tmp/trenchcoat-demo-likert.png")
    page.wait_for_function("() => document.getElementById('done-count').textContent === '1'")
    (likert,) = Annotation.objects.filter(study=studies["demo-likert"])
    assert list(likert.response["ratings"].values()) == [{"helpfulness": 4, "correctness": 2, "verbosity": 3, "overall": 75}]

    # MQM on the TED excerpt: source and translation side by side; no error, a score.
    page.goto(reverse("study_annotate", args=["demo-mqm"]))
    wait_for_unit(page)
    item = studies["demo-mqm"].items.get(prompt=page.locator(".mqm-text[data-side=source] .cand-body").inner_text())
    assert item.doc_id == "talk.1"
    page.screenshot(path="/tmp/trenchcoat-demo-mqm.png")
    for key in ("0", "s", "8", "0", "Enter"):
        page.keyboard.press(key)
    page.wait_for_function("() => document.getElementById('done-count').textContent === '1'")
    (mqm,) = Annotation.objects.filter(study=studies["demo-mqm"])
    assert mqm.response == {"errors": [], "no_error": True, "score": 80}

    # Rubric: five criteria, one of which needs an evidence span.
    page.goto(reverse("study_annotate", args=["demo-rubric"]))
    wait_for_unit(page)
    assert page.locator(".crit-row").count() == 5
    text = Candidate.objects.get(pk=int(page.locator(".rubric .cand").get_attribute("data-candidate-id"))).text
    word = text.split()[0]
    page.keyboard.press("y")
    page.keyboard.press("y")  # main point: waits for its evidence
    start, end = drag_select(page, ".rubric .cand-body", text, word)
    for key in ("p", "n", "3"):
        page.keyboard.press(key)
    page.screenshot(path="/tmp/trenchcoat-demo-rubric.png")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('done-count').textContent === '1'")
    (rubric,) = Annotation.objects.filter(study=studies["demo-rubric"])
    values = {k: v["value"] for k, v in rubric.response["criteria"].items()}
    assert values == {"follows": "yes", "main-point": "yes", "correct": "partial", "concise": "no", "fluency": 3}
    assert rubric.response["criteria"]["main-point"]["evidence"] == {"start": start, "end": end}
    assert page.script_errors == []
