"""MTurk ExternalQuestion without a browser: MTurk's origins (and only they) may frame the
crowd pages of an MTurk study; the preview describes the task and stores nothing; the HIT is
handed in by a form posted to turkSubmitTo + /mturk/externalSubmit with the assignment id,
shown only once the quota is done and the checks pass."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse

from annotation.models import StudyMembership
from annotation.services import annotation_submit
from elicitation.services import assignment_next_for_annotator
from tests.factories import make_study, make_user

pytestmark = pytest.mark.django_db

SANDBOX = "https://workersandbox.mturk.com"


@pytest.fixture
def study():
    owner = make_user("owner", researcher=True)
    return make_study(owner, slug="turk", items=4, redundancy=1, crowd={"platform": "mturk", "quota": 2},
                      instructions="Pick the **better** answer.")


def entry(study, **params) -> str:
    query = {"workerId": "A1B2C3", "assignmentId": "3ASSIGN", "hitId": "H1", "turkSubmitTo": SANDBOX, **params}
    return reverse("crowd_entry", args=[study.invite_token]) + "?" + urlencode({k: v for k, v in query.items() if v is not None})


def frame_ancestors(response) -> str:
    return re.search(r"frame-ancestors ([^;]*)", response["Content-Security-Policy"])[1]


def test_mturk_origins_and_no_other_may_frame_the_worker_pages(study, settings):
    client = Client()
    response = client.get(entry(study))
    assert response.status_code == 302
    for r in (response, client.get(response["Location"])):
        assert frame_ancestors(r) == " ".join(settings.MTURK_ORIGINS)
        assert "X-Frame-Options" not in r
    annotate = client.get(reverse("study_annotate", args=["turk"]))
    assert "form-action 'self' https://www.mturk.com" in annotate["Content-Security-Policy"]
    assert "script-src 'self';" in annotate["Content-Security-Policy"]  # nothing else loosened
    # the session cookie works inside the frame (a third party there): SameSite=None; Secure
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["samesite"] == "None" and cookie["secure"]

    # a Prolific study's pages, and the researcher pages, are never framed
    owner = study.owner
    prolific = make_study(owner, slug="pro", items=1, crowd={"platform": "prolific", "completion_code": "X"})
    pro = Client()
    r = pro.get(reverse("crowd_entry", args=[prolific.invite_token]) + "?PROLIFIC_PID=P1&SESSION_ID=S1")
    assert frame_ancestors(r) == "'none'" and r["X-Frame-Options"] == "DENY"
    assert r.cookies[settings.SESSION_COOKIE_NAME]["samesite"] == "Lax"
    researcher = Client()
    researcher.force_login(owner)
    assert frame_ancestors(researcher.get(reverse("study_detail", args=["turk"]))) == "'none'"


def test_the_preview_describes_the_task_and_creates_no_annotator(study):
    client = Client()
    response = client.get(entry(study, workerId=None, assignmentId="ASSIGNMENT_ID_NOT_AVAILABLE", turkSubmitTo=None))
    html = response.content.decode()
    assert response.status_code == 200 and "Accept the HIT to start" in html
    assert "Pick the <strong>better</strong> answer." in html  # the task description
    assert frame_ancestors(response) != "'none'"
    assert not StudyMembership.objects.filter(study=study, role="annotator").exists()
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("submit_to", [None, "https://evil.example", "https://www.mturk.com.evil.example", "javascript:alert(1)"])
def test_turk_submit_to_must_be_an_mturk_origin(study, submit_to):
    response = Client().get(entry(study, turkSubmitTo=submit_to))
    assert response.status_code == 400 and "turkSubmitTo" in response.content.decode()
    assert not StudyMembership.objects.filter(study=study, role="annotator").exists()


def test_the_hit_is_handed_in_to_turk_submit_to_once_the_quota_is_done(study):
    client = Client()
    client.get(entry(study))
    user = StudyMembership.objects.get(study=study, worker_id="A1B2C3").user
    complete = reverse("study_complete", args=["turk"])
    assert 'id="mturk-submit-form"' not in client.get(complete).content.decode()  # not before the quota
    for k in range(2):
        a = assignment_next_for_annotator(study=study, user=user)
        annotation_submit(assignment_id=a.id, user=user, response={"choice": a.display_order[0]}, idempotency_key=f"t{k}")
    response = client.get(complete)
    html = response.content.decode()
    assert f'<form method="post" action="{SANDBOX}/mturk/externalSubmit" id="mturk-submit-form">' in html
    assert '<input type="hidden" name="assignmentId" value="3ASSIGN">' in html
    form = html.split('id="mturk-submit-form">', 1)[1].split("</form>", 1)[0]
    assert "csrfmiddlewaretoken" not in form  # our CSRF token is not sent to MTurk
    assert f"form-action 'self' {SANDBOX}" in response["Content-Security-Policy"].replace("https://www.mturk.com https://worker.mturk.com ", "")
    # an excluded worker gets no form
    StudyMembership.objects.filter(user=user).update(excluded=True)
    assert 'id="mturk-submit-form"' not in client.get(complete).content.decode()


def test_the_origins_are_a_setting(study, settings):
    settings.MTURK_ORIGINS = ["http://mturk.test"]
    client = Client()
    assert client.get(entry(study)).status_code == 400  # the sandbox is not configured now
    response = client.get(entry(study, turkSubmitTo="http://mturk.test"))
    assert response.status_code == 302 and frame_ancestors(response) == "http://mturk.test"
