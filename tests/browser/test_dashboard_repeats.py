"""The dashboard draws the swapped repeats: one flip rate per annotator, the annotator who
follows the position flips on every repeat, the one who follows the content never; repeats
are counted beside the checks and marked as quality control among the strategies."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotation.models import Candidate
from tests.browser.test_annotate import sign_in
from tests.browser.test_dashboard import drive
from tests.factories import add_annotator, make_study, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_flip_rate_of_each_annotator_is_drawn(new_page):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="flips", items=8, redundancy=2, quality={"repeat_share": 1.0, "repeat_gap": 2})
    users = [add_annotator(study, "lefty"), add_annotator(study, "steady")]
    systems = dict(Candidate.objects.filter(item__study=study).values_list("id", "system"))

    def respond(user, shown, turn):
        if user.username == "lefty":
            return {"choice": shown[0][0]}
        return {"choice": next(cid for cid, system in shown if systems.get(cid, system) == "sys-a")}

    drive(study, users, respond)
    page = new_page(1400, 1000)
    sign_in(page, "owner")
    page.goto(reverse("study_dashboard", args=["flips"]))
    page.wait_for_selector("#dashboard[data-loaded=true]")
    chart = page.locator("#flip-chart")
    assert chart.locator("circle.point").count() == 1 + 2  # overall and both annotators
    text = chart.text_content()
    assert "lefty" in text and "steady" in text and "100.0% (n=8)" in text and "0.0% (n=8)" in text
    assert "Flipped 50.0%" in page.locator("#sec-bias").inner_text()
    assert "16 repeats" in page.locator("#tile-judgments").inner_text()
    assert "no (quality control)" in page.locator("#strategies-table").inner_text()
    assert page.locator(".dash-error").count() == 0
