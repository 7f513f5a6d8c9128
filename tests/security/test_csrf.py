"""CSRF on every form: every page action (from the page permission matrix, itself generated
from the URLconf), sign-in, join and the API with session auth refuse a request without the
token, and every POST form in the templates carries one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from annotation.models import StudyMembership
from exports.models import ExportJob
from tests.factories import PASSWORD, add_annotator, make_study, make_user
from tests.security.test_page_permissions import EXPECTED, url_for

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parents[2] / "frontend" / "templates"
POST_ACTIONS = sorted(name for name, (method, *_rest) in EXPECTED.items() if method == "post")


@pytest.fixture
def owner_client():
    owner = make_user("owner", researcher=True)
    make_user("newcomer")
    study = make_study(owner, slug="main", items=2)
    failed = ExportJob.objects.create(study=study, format="raw", created_by=owner, status="failed", error="No space left on device")
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    return client, study, failed


@pytest.mark.parametrize("name", POST_ACTIONS)
def test_every_page_action_needs_the_csrf_token(owner_client, name):
    client, study, failed = owner_client
    _, payload, _, effect = EXPECTED[name]
    kwargs = {"slug": study.slug, "token": study.invite_token, "job_id": failed.pk}
    world = {"token_before": study.invite_token, "kwargs": kwargs}
    response = client.post(url_for(name, kwargs), payload() if payload else {})
    assert response.status_code == 403, (name, response.status_code)
    if effect is not None:
        assert not effect(world), f"{name} took effect without a CSRF token"


def test_sign_in_and_join_need_the_csrf_token():
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="j", items=1)
    user = make_user("someone")
    client = Client(enforce_csrf_checks=True)
    assert client.post(reverse("login"), {"username": "someone", "password": PASSWORD}).status_code == 403
    response = client.post(reverse("join", args=[study.invite_token]), {"action": "signin", "signin-username": "someone",
                                                                        "signin-password": PASSWORD})
    assert response.status_code == 403
    assert not StudyMembership.objects.filter(study=study, user=user).exists()
    # With the token the browser gets from the page, it works.
    page = client.get(reverse("login"))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    assert client.post(reverse("login"), {"username": "someone", "password": PASSWORD, "csrfmiddlewaretoken": token}).status_code == 302


def test_the_api_with_session_auth_needs_the_csrf_header_and_tokens_do_not():
    from rest_framework.authtoken.models import Token

    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="api", items=2)
    user = add_annotator(study, "ann")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    refused = client.post(f"/api/v1/studies/{study.slug}/next/")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    client.get(reverse("study_annotate", args=[study.slug]))  # the page sets the cookie the app reads
    token = client.cookies["csrftoken"].value
    assert client.post(f"/api/v1/studies/{study.slug}/next/", HTTP_X_CSRFTOKEN=token).status_code == 200
    # A script's token is not a browser credential: no CSRF token needed, none possible to forge.
    script = Client(enforce_csrf_checks=True)
    key = Token.objects.create(user=owner).key
    assert script.get(f"/api/v1/studies/{study.slug}/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


def test_every_post_form_in_the_templates_carries_the_token():
    forms = 0
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        for match in re.finditer(r"<form\b([^>]*)>(.*?)</form>", text, flags=re.DOTALL | re.IGNORECASE):
            attrs, body = match.groups()
            if re.search(r'action\s*=\s*"\{\{ mturk\.action \}\}"', attrs):
                # the HIT handed in to MTurk: our token must not leave for another site
                assert "csrf" not in body, f"{path.name}: the form to MTurk carries our CSRF token"
                continue
            if re.search(r'method\s*=\s*"post"', attrs, flags=re.IGNORECASE):
                forms += 1
                assert "{% csrf_token %}" in body, f"{path.name}: a POST form without {{% csrf_token %}}: {attrs.strip()}"
    assert forms >= 8
