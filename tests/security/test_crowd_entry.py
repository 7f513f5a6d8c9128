"""Crowd entry links cannot be used to impersonate another worker: a worker id alone does not
open someone else's session, the pseudonymous account cannot be derived from the worker id
without the server's secret nor signed into with a password, and an id in one study says
nothing about another study."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from django.test import Client
from django.urls import reverse

from annotation.errors import Invalid, NotAllowed, NotFound
from annotation.models import StudyMembership
from annotation.services import crowd_enter
from tests.factories import make_study, make_user

pytestmark = pytest.mark.django_db

CROWD = {"platform": "prolific", "completion_code": "C0DE", "quota": 2}


@pytest.fixture
def studies():
    owner = make_user("owner", researcher=True)
    return make_study(owner, slug="crowd-a", items=2, crowd=CROWD), make_study(owner, slug="crowd-b", items=2, crowd=CROWD)


def enter(study, pid, session):
    return crowd_enter(token=study.invite_token, params={"PROLIFIC_PID": pid, "SESSION_ID": session})


def test_a_worker_id_alone_does_not_open_another_workers_session(studies):
    a, _ = studies
    _, victim = enter(a, "W1", "victim-session")
    for stolen in ("", "guess", "victim-session ", "VICTIM-SESSION"):
        with pytest.raises((NotAllowed, Invalid)):
            enter(a, "W1", stolen)
    _, again = enter(a, "W1", "victim-session")
    assert again.pk == victim.pk
    assert StudyMembership.objects.filter(study=a, worker_id="W1").count() == 1


def test_the_account_is_a_keyed_pseudonym_without_a_password(studies, settings):
    a, _ = studies
    _, user = enter(a, "W2", "s2")
    assert "W2" not in user.username and not user.has_usable_password()
    unkeyed = hashlib.sha256(f"{a.pk}:prolific:W2".encode()).hexdigest()[:20]
    assert unkeyed not in user.username  # derivable only with SECRET_KEY
    expected = hmac.new(settings.SECRET_KEY.encode(), f"{a.pk}:prolific:W2".encode(), hashlib.sha256).hexdigest()[:20]
    assert user.username == f"prolific-{expected}"
    client = Client()
    for password in ("", "W2", "s2", user.username):
        response = client.post(reverse("login"), {"username": user.username, "password": password})
        assert response.status_code == 200 and "_auth_user_id" not in client.session


def test_the_same_worker_in_another_study_is_another_annotator(studies):
    a, b = studies
    _, in_a = enter(a, "W3", "s3")
    _, in_b = enter(b, "W3", "s3")
    assert in_a.pk != in_b.pk


def test_entry_links_are_checked(studies):
    a, _ = studies
    owner = make_user("plain-owner", researcher=True)
    plain = make_study(owner, slug="plain", items=1)
    with pytest.raises(NotFound):
        crowd_enter(token=plain.invite_token, params={"PROLIFIC_PID": "W4", "SESSION_ID": "s"})  # not a crowd study
    with pytest.raises(NotFound):
        crowd_enter(token="not-a-token", params={"PROLIFIC_PID": "W4", "SESSION_ID": "s"})
    for pid in ("", "<script>", "a" * 101, "W4'; DROP TABLE"):
        with pytest.raises(Invalid):
            enter(a, pid, "s")
    a.status = "paused"
    a.save()
    with pytest.raises(NotAllowed):
        enter(a, "W5", "s")


def test_a_worker_id_with_a_trailing_newline_is_refused(studies):
    a, _ = studies
    enter(a, "W6", "s")
    with pytest.raises(Invalid):
        enter(a, "W6\n", "s")


def test_the_entry_page_signs_in_only_the_worker_whose_session_it_is(studies):
    a, _ = studies
    victim = Client()
    assert victim.get(f"/crowd/{a.invite_token}/", {"PROLIFIC_PID": "W7", "SESSION_ID": "real"}).status_code == 302
    victim_id = victim.session["_auth_user_id"]
    attacker = Client(raise_request_exception=False)
    response = attacker.get(f"/crowd/{a.invite_token}/", {"PROLIFIC_PID": "W7", "SESSION_ID": "forged"})
    assert response.status_code == 403 and "_auth_user_id" not in attacker.session
    signed_in = Client()
    signed_in.force_login(make_user("someone-else"))
    signed_in.get(f"/crowd/{a.invite_token}/", {"PROLIFIC_PID": "W7", "SESSION_ID": "forged"})
    assert signed_in.session.get("_auth_user_id") != victim_id
