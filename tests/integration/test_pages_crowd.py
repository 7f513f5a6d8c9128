"""Crowd platforms without a browser: the entry link signs a worker in as a pseudonymous
annotator and lands on the annotate page; refusals are clear pages with the right status;
the completion page shows the code only once the quota is done (or nothing is left) and
never to an annotator excluded by the quality checks."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from annotation.models import Annotation, Assignment, Candidate, Study, StudyMembership, Unit
from annotation.services import annotation_submit, items_import
from elicitation.services import assignment_next_for_annotator
from tests.factories import add_annotator, make_study, make_user

pytestmark = pytest.mark.django_db

CODE = "C0DE-7731"
PROLIFIC = {"platform": "prolific", "quota": 2, "completion_code": CODE}


@pytest.fixture
def owner():
    return make_user("owner", researcher=True)


@pytest.fixture
def study(owner):
    return make_study(owner, slug="crowd", items=4, redundancy=2, crowd=PROLIFIC)


def entry(study, pid="W1", session="S1", **extra) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"PROLIFIC_PID": pid, "STUDY_ID": "st", "SESSION_ID": session, **extra}.items())
    return reverse("crowd_entry", args=[study.invite_token]) + "?" + query


def enter(study, pid="W1", session="S1", client=None):
    client = client or Client()
    return client, client.get(entry(study, pid, session))


def judge(study, user, n: int) -> None:
    """n regular judgments through the real services (first candidate wins)."""
    for _ in range(n):
        a = assignment_next_for_annotator(study=study, user=user)
        assert a is not None
        annotation_submit(assignment_id=a.id, user=user, response={"choice": a.display_order[0]}, idempotency_key=f"k{a.id}")


def session_user(client):
    return get_user_model().objects.filter(pk=client.session.get("_auth_user_id")).first()


# --- entry ------------------------------------------------------------------------------------


def test_entry_makes_a_pseudonymous_annotator_and_lands_on_the_annotate_page(study):
    client, response = enter(study, "5f1a2b3c4d", "sess-9")
    assert response.status_code == 302 and response["Location"] == reverse("study_annotate", args=["crowd"])
    user = session_user(client)
    assert user is not None and user.username.startswith("prolific-") and "5f1a2b3c4d" not in user.username
    assert not user.has_usable_password()
    membership = StudyMembership.objects.get(study=study, user=user)
    assert (membership.role, membership.platform, membership.worker_id, membership.platform_session) == ("annotator", "prolific", "5f1a2b3c4d", "sess-9")
    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-done-url="{reverse("study_complete", args=["crowd"])}"' in html and 'data-crowd-quota="2"' in html
    assert "5f1a2b3c4d" not in html  # the worker id is not shown back
    # Re-entering with the same session is the same annotator.
    client2, again = enter(study, "5f1a2b3c4d", "sess-9")
    assert again.status_code == 302 and session_user(client2).pk == user.pk
    assert StudyMembership.objects.filter(study=study, role="annotator").count() == 1


def test_the_same_worker_id_with_another_session_is_refused(study):
    first, _ = enter(study, "W1", "S1")
    owner_of_w1 = session_user(first)
    thief, response = enter(study, "W1", "S2")
    assert response.status_code == 403
    html = response.content.decode()
    assert "You cannot start this study" in html and "already taking part in another session" in html
    assert session_user(thief) is None  # not signed in as W1's annotator
    assert StudyMembership.objects.filter(study=study, worker_id="W1").get().user_id == owner_of_w1.pk


@pytest.mark.parametrize(
    "query,status,text",
    [
        ("PROLIFIC_PID=W1&STUDY_ID=st", 400, "SESSION_ID: missing or malformed"),
        ("SESSION_ID=S1", 400, "PROLIFIC_PID: missing or malformed"),
        ("PROLIFIC_PID=%3Cscript%3E&SESSION_ID=S1", 400, "PROLIFIC_PID: missing or malformed"),
        ("PROLIFIC_PID=" + "a" * 101 + "&SESSION_ID=S1", 400, "PROLIFIC_PID"),
        ("PROLIFIC_PID={{%PROLIFIC_PID%}}&SESSION_ID={{%SESSION_ID%}}", 400, "Open the study again from Prolific"),
    ],
)
def test_malformed_entry_links_are_a_clear_400(study, query, status, text):
    client = Client()
    response = client.get(reverse("crowd_entry", args=[study.invite_token]) + "?" + query)
    assert response.status_code == status
    assert text in response.content.decode()
    assert "<script>" not in response.content.decode()
    assert session_user(client) is None
    assert not StudyMembership.objects.filter(study=study, role="annotator").exists()


def test_unknown_token_non_crowd_study_and_closed_study(owner, study):
    response = Client().get(reverse("crowd_entry", args=["no-such-token"]) + "?PROLIFIC_PID=W1&SESSION_ID=S1")
    assert response.status_code == 404 and "This link is not valid" in response.content.decode()
    plain = make_study(owner, slug="plain", items=1)
    response = Client().get(reverse("crowd_entry", args=[plain.invite_token]) + "?PROLIFIC_PID=W1&SESSION_ID=S1")
    assert response.status_code == 404
    for status in ("closed", "paused", "draft"):
        Study.objects.filter(pk=study.pk).update(status=status)
        client, response = enter(study, "W9", "S9")
        assert response.status_code == 403, status
        assert f"This study is {status}." in response.content.decode()
        assert session_user(client) is None
    assert not StudyMembership.objects.filter(study=study, worker_id="W9").exists()


def test_mturk_entry_and_preview(owner):
    study = make_study(owner, slug="turk", items=2, crowd={"platform": "mturk", "completion_code": "T"})
    url = reverse("crowd_entry", args=[study.invite_token])
    preview = Client().get(url + "?assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId=H1")
    assert preview.status_code == 200 and "Accept the HIT to start" in preview.content.decode()
    assert not StudyMembership.objects.filter(study=study, role="annotator").exists()
    client = Client()
    response = client.get(url + "?workerId=A1B2C3&assignmentId=3XYZ&hitId=H1&turkSubmitTo=https%3A%2F%2Fwww.mturk.com")
    assert response.status_code == 302 and response["Location"] == reverse("study_annotate", args=["turk"])
    assert session_user(client).username.startswith("mturk-")
    refused = Client().get(url + "?workerId=A1B2C3&assignmentId=OTHER&hitId=H1&turkSubmitTo=https%3A%2F%2Fwww.mturk.com")
    assert refused.status_code == 403


def test_entry_replaces_whoever_was_signed_in(study, owner):
    client = Client()
    client.force_login(owner)
    response = client.get(entry(study, "W5", "S5"))
    assert response.status_code == 302
    user = session_user(client)
    assert user != owner and StudyMembership.objects.get(study=study, user=user).worker_id == "W5"


def test_entry_is_rate_limited_per_address(study, settings):
    settings.JOIN_RATE = "3/min"
    address = f"198.19.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"  # counters outlive a test: a fresh address
    for k in range(3):
        assert enter(study, f"R{k}", "S", client=Client(REMOTE_ADDR=address))[1].status_code == 302
    _, response = enter(study, "R9", "S", client=Client(REMOTE_ADDR=address))
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert not StudyMembership.objects.filter(study=study, worker_id="R9").exists()


# --- completion ---------------------------------------------------------------------------------


def completion(client, slug="crowd"):
    return client.get(reverse("study_complete", args=[slug]))


def test_the_code_is_hidden_before_the_quota_and_shown_after(study):
    client, _ = enter(study)
    user = session_user(client)
    before = completion(client)
    assert before.status_code == 200
    html = before.content.decode()
    assert CODE not in html
    assert "You have judged 0 of 2 units: 2 more to go" in html and reverse("study_annotate", args=["crowd"]) in html
    assert client.get(reverse("study_complete", args=["crowd"]), HTTP_ACCEPT="application/json").json() == {"finished": False}
    judge(study, user, 1)
    assert CODE not in completion(client).content.decode()
    assert "1 more to go" in completion(client).content.decode()
    judge(study, user, 1)
    after = completion(client)
    assert after.status_code == 200 and after["Cache-Control"] == "no-store"
    assert re.search(rf'<output class="completion-code mono" id="completion-code">{CODE}</output>', after.content.decode())
    assert client.get(reverse("study_complete", args=["crowd"]), HTTP_ACCEPT="application/json").json() == {"finished": True}
    # The annotate page now sends the worker to the completion page; the done page too.
    annotate = client.get(reverse("study_annotate", args=["crowd"]))
    assert annotate.status_code == 302 and annotate["Location"] == reverse("study_complete", args=["crowd"])
    done = client.get(reverse("study_done", args=["crowd"]))
    assert done.status_code == 302 and done["Location"] == reverse("study_complete", args=["crowd"])


def test_an_excluded_annotator_never_sees_the_code(study):
    client, _ = enter(study)
    user = session_user(client)
    judge(study, user, 2)  # the quota is done, but the checks were not passed
    StudyMembership.objects.filter(study=study, user=user).update(excluded=True, excluded_reason="passed 0 of 3 checks, below 70%")
    assert client.get(reverse("study_annotate", args=["crowd"]))["Location"] == reverse("study_complete", args=["crowd"])
    for response in (completion(client), client.get(reverse("study_complete", args=["crowd"]), follow=True)):
        html = response.content.decode()
        assert response.status_code == 200 and CODE not in html
        assert "did not pass this study's quality checks" in html
    assert client.get(reverse("study_complete", args=["crowd"]), HTTP_ACCEPT="application/json").json() == {"finished": True}
    assert CODE not in client.get(reverse("study_annotate", args=["crowd"]), follow=True).content.decode()


def test_gold_and_attention_checks_do_not_count_towards_the_quota(owner):
    study = make_study(owner, slug="gold", items=3, redundancy=1, crowd=PROLIFIC)
    items_import(study=study, lines=[json.dumps({"id": "g", "prompt": "2+2?", "candidates": [
        {"system": "sys-a", "text": "4"}, {"system": "sys-b", "text": "5"}], "meta": {"gold": {"choice": "sys-a"}}})])
    client, _ = enter(study)
    user = session_user(client)
    gold = Unit.objects.get(study=study, kind="gold")
    lease = Assignment.objects.create(study=study, unit=gold, annotator=user, strategy="gold", propensity=0.5,
                                      display_order=gold.candidate_ids, expires_at=timezone.now() + timedelta(minutes=5))
    right = Candidate.objects.get(item=gold.item, system="sys-a").id
    annotation_submit(assignment_id=lease.id, user=user, response={"choice": right}, idempotency_key="gold")
    judge(study, user, 1)
    # Two judgments (what the annotator app counts), one of them a check: not the quota yet.
    assert Annotation.objects.filter(annotator=user).count() == 2
    assert client.get(reverse("study_complete", args=["gold"]), HTTP_ACCEPT="application/json").json() == {"finished": False}
    html = completion(client, "gold").content.decode()
    assert CODE not in html and "You have judged 1 of 2 units" in html
    judge(study, user, 1)
    assert CODE in completion(client, "gold").content.decode()


def test_with_quota_zero_the_code_comes_when_nothing_is_left(owner):
    study = make_study(owner, slug="all", items=2, redundancy=1, crowd={**PROLIFIC, "quota": 0})
    client, _ = enter(study)
    user = session_user(client)
    assert "keep going until none is left" in completion(client, "all").content.decode()
    judge(study, user, 1)
    assert CODE not in completion(client, "all").content.decode()
    judge(study, user, 1)
    assert assignment_next_for_annotator(study=study, user=user) is None
    assert CODE in completion(client, "all").content.decode()


def test_a_worker_who_arrives_when_nothing_is_left_gets_no_code(owner):
    study = make_study(owner, slug="full", items=1, redundancy=1, crowd=PROLIFIC)
    early, _ = enter(study, "W1", "S1")
    judge(study, session_user(early), 1)
    late, _ = enter(study, "W2", "S2")
    html = completion(late, "full").content.decode()
    assert CODE not in html and "nothing left for you to judge" in html and "return the study on Prolific" in html


def test_the_redirect_url_is_used_once_the_code_is_earned(owner):
    url = "https://app.prolific.com/submissions/complete?cc=C0DE"
    study = make_study(owner, slug="redir", items=2, redundancy=1, crowd={"platform": "prolific", "quota": 1, "redirect_url": url})
    client, _ = enter(study)
    assert completion(client, "redir").status_code == 200
    judge(study, session_user(client), 1)
    response = completion(client, "redir")
    assert response.status_code == 302 and response["Location"] == url


def test_a_paused_study_says_so_on_the_completion_page(study):
    client, _ = enter(study)
    Study.objects.filter(pk=study.pk).update(status="paused")
    html = completion(client).content.decode()
    assert "The study is paused right now" in html and CODE not in html


def test_completion_page_access(study, owner):
    assert Client().get(reverse("study_complete", args=["crowd"]))["Location"].startswith(reverse("login"))
    owner_client = Client()
    owner_client.force_login(owner)
    assert completion(owner_client).status_code == 404  # researchers do not annotate
    stranger = Client()
    stranger.force_login(make_user("stranger"))
    assert completion(stranger).status_code == 404
    # An annotator of a study without a crowd platform is sent to the plain done page.
    plain = make_study(owner, slug="plain", items=1)
    ann = add_annotator(plain, "ann")
    c = Client()
    c.force_login(ann)
    response = completion(c, "plain")
    assert response.status_code == 302 and response["Location"] == reverse("study_done", args=["plain"])


# --- the study page ----------------------------------------------------------------------------


def test_the_study_page_shows_the_entry_link_for_crowd_studies(owner, study):
    client = Client()
    client.force_login(owner)
    html = client.get(reverse("study_detail", args=["crowd"])).content.decode()
    link = f"http://testserver/crowd/{study.invite_token}/?PROLIFIC_PID={{{{%PROLIFIC_PID%}}}}&amp;STUDY_ID={{{{%STUDY_ID%}}}}&amp;SESSION_ID={{{{%SESSION_ID%}}}}"
    assert f'value="{link}" id="crowd-url"' in html
    assert CODE in html and "2 units per worker" in html
    turk = make_study(owner, slug="turk", items=1, crowd={"platform": "mturk", "completion_code": "T"})
    html = client.get(reverse("study_detail", args=["turk"])).content.decode()
    assert f'value="http://testserver/crowd/{turk.invite_token}/" id="crowd-url"' in html and "MTurk appends workerId" in html
    plain = make_study(owner, slug="plain", items=1)
    assert plain.invite_token and 'id="crowd-url"' not in client.get(reverse("study_detail", args=["plain"])).content.decode()


def test_an_annotator_who_joined_through_the_invite_page_gets_no_code(study):
    """The invite page and the entry link share the study's token; only entry through the
    platform's link makes a crowd worker with a submission to complete."""
    ann = add_annotator(study, "invited")
    client = Client()
    client.force_login(ann)
    judge(study, ann, 2)
    response = completion(client)
    assert response.status_code == 302 and response["Location"] == reverse("study_done", args=["crowd"])
    assert CODE not in client.get(response["Location"]).content.decode()
    assert 'data-crowd-quota="0"' in client.get(reverse("study_annotate", args=["crowd"])).content.decode()
