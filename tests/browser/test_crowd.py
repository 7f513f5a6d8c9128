"""A crowd worker in a real browser: in through the Prolific entry link, judge with the
keyboard up to the quota, land on the completion code; another session with the same
worker id is refused; an excluded worker never sees the code."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotation.models import Annotation, StudyMembership
from tests.browser.test_annotate import hosts, sign_in, wait_for_unit
from tests.factories import make_study, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CODE = "TRENCH-42"
SCREENSHOT = "/tmp/trenchcoat-crowd-complete.png"


def entry_url(study, pid, session) -> str:
    return reverse("crowd_entry", args=[study.invite_token]) + f"?PROLIFIC_PID={pid}&STUDY_ID=prolific-study&SESSION_ID={session}"


def test_a_prolific_worker_judges_up_to_the_quota_and_gets_the_code(new_page, live_host):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="crowd", items=6, redundancy=1, crowd={"platform": "prolific", "quota": 2, "completion_code": CODE},
                       instructions="Pick the better answer.")
    page = new_page()
    page.goto(entry_url(study, "60a1b2c3d4e5f6", "sess-1"))
    page.wait_for_url(f"**{reverse('study_annotate', args=['crowd'])}")
    unit_id = None
    for _ in range(2):
        unit_id = wait_for_unit(page, unit_id)
        assert CODE not in page.content()
        page.keyboard.press("1")
        page.keyboard.press("Enter")
    page.wait_for_url(f"**{reverse('study_complete', args=['crowd'])}")
    assert page.locator("#completion-code").inner_text() == CODE
    page.screenshot(path=SCREENSHOT, full_page=True)
    user = StudyMembership.objects.get(study=study, worker_id="60a1b2c3d4e5f6").user
    assert Annotation.objects.filter(annotator=user).count() == 2
    assert "60a1b2c3d4e5f6" not in page.content()  # the pseudonymous account does not show the worker id
    assert page.script_errors == []
    assert hosts(page.requested) == {live_host}

    # Someone else with the same Prolific id but another session is turned away.
    thief = new_page()
    response = thief.goto(entry_url(study, "60a1b2c3d4e5f6", "sess-2"))
    assert response.status == 403
    assert "already taking part in another session" in thief.locator("#crowd-reason").inner_text()
    assert thief.goto(reverse("study_complete", args=["crowd"])).url.endswith(f"{reverse('login')}?next={reverse('study_complete', args=['crowd'])}")
    assert CODE not in thief.content()

    # The researcher finds the entry link to paste into Prolific on the study page.
    researcher = new_page()
    sign_in(researcher, "owner")
    researcher.goto(reverse("study_detail", args=["crowd"]))
    link = researcher.input_value("#crowd-url")
    assert link.endswith(f"/crowd/{study.invite_token}/?PROLIFIC_PID={{{{%PROLIFIC_PID%}}}}&STUDY_ID={{{{%STUDY_ID%}}}}&SESSION_ID={{{{%SESSION_ID%}}}}")


def test_an_excluded_worker_never_sees_the_code(new_page):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="crowd", items=6, redundancy=1, crowd={"platform": "prolific", "quota": 2, "completion_code": CODE})
    page = new_page()
    page.goto(entry_url(study, "W-bad", "s"))
    unit_id = wait_for_unit(page)
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    wait_for_unit(page, unit_id)
    StudyMembership.objects.filter(study=study, worker_id="W-bad").update(excluded=True, excluded_reason="passed 0 of 3 checks, below 70%")
    page.keyboard.press("2")
    page.keyboard.press("Enter")  # the quota is reached, but the checks were failed
    page.wait_for_url(f"**{reverse('study_complete', args=['crowd'])}")
    assert "did not pass this study's quality checks" in page.locator("#complete-excluded").inner_text()
    assert CODE not in page.content() and page.locator("#completion-code").count() == 0
    page.goto(reverse("study_annotate", args=["crowd"]))  # no way back in to earn it
    assert page.url.endswith(reverse("study_complete", args=["crowd"]))
    assert CODE not in page.content()
    assert page.script_errors == []
