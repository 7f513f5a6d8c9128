"""A permission matrix over every page and page action (not the API, not the admin),
generated from the URL configuration: a new named URL without an entry in EXPECTED fails.

Each action is sent with a valid payload, so "refused" means more than a status code: the
action must also have had no effect (nothing created, nothing changed)."""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from annotation.models import Item, Study, StudyMembership
from exports.models import ExportJob
from tests.factories import add_annotator, make_study, make_user, pairwise_items

pytestmark = pytest.mark.django_db

ACTORS = ["anonymous", "annotator_other", "annotator", "researcher_other", "owner", "admin"]
EVERYONE = set(ACTORS)
SIGNED_IN = EVERYONE - {"anonymous"}
MANAGERS = {"owner", "admin"}
CREATORS = {"researcher_other", "owner", "admin"}  # accounts with the add_study permission (or staff)


def _crowd_entry_params():
    """The matrix's token is the other study's invite token: make that study a crowd study,
    then send the platform's parameters. Anyone may enter (no account needed)."""
    Study.objects.filter(slug="other").update(crowd={"platform": "prolific", "quota": 1, "completion_code": "C0DE", "redirect_url": ""})
    return {"PROLIFIC_PID": "worker-1", "STUDY_ID": "st", "SESSION_ID": "se"}


def _upload():
    data = "\n".join(json.dumps(i) for i in pairwise_items(2, prefix="new")).encode()
    return {"file": io.BytesIO(data), "format": "jsonl"}


# url name -> (method, payload, actors that get through, effect(world) -> bool: did it happen?)
# Anybody else must get a refusal (anonymous: a redirect to the sign-in page or a 404;
# signed in: 403 or 404) and the effect must not happen.
EXPECTED = {
    "login": ("get", None, EVERYONE, None),  # public by design
    "logout": ("post", None, SIGNED_IN, None),  # signs out (anonymous: sent to the sign-in page)
    "join": ("get", None, EVERYONE, None),  # the invite page is public; joining needs an account (below)
    "home": ("get", None, SIGNED_IN, None),
    "study_new": ("get", None, CREATORS, None),
    "study_detail": ("get", None, MANAGERS, None),
    "study_status": ("post", lambda: {"status": "paused"}, MANAGERS, lambda w: Study.objects.get(slug="main").status == "paused"),
    "study_upload": ("post", _upload, MANAGERS, lambda w: Item.objects.filter(external_id__startswith="new-").exists()),
    "study_invite_reset": ("post", dict, MANAGERS, lambda w: Study.objects.get(slug="main").invite_token != w["token_before"]),
    "study_researcher_add": ("post", lambda: {"username": "newcomer"}, {"owner"},
                             lambda w: StudyMembership.objects.filter(user__username="newcomer", role="researcher").exists()),
    "study_export_create": ("post", lambda: {"format": "raw", "options": "{}"}, MANAGERS,
                            lambda w: ExportJob.objects.filter(study__slug="main").exclude(pk=w["kwargs"]["job_id"]).exists()),
    "study_export_retry": ("post", dict, MANAGERS, lambda w: ExportJob.objects.get(pk=w["kwargs"]["job_id"]).status != "failed"),
    "study_annotate": ("get", None, {"annotator"}, None),
    "study_done": ("get", None, {"annotator"}, None),
    "study_strategy": ("post", lambda: {"strategy": "balanced", "strategy_params": "{}"}, MANAGERS,
                       lambda w: Study.objects.get(slug="main").strategy == "balanced"),
    "study_dashboard": ("get", None, MANAGERS, None),
    "study_complete": ("get", None, {"annotator"}, None),  # a crowd worker's completion page
    "crowd_entry": ("get", _crowd_entry_params, EVERYONE,
                    lambda w: StudyMembership.objects.filter(study__slug="other", platform="prolific", worker_id="worker-1").exists()),
}


def page_url_names(patterns=None, prefix=""):
    for p in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(p.pattern)
        if route.startswith(("admin/", "api/")):
            continue
        if isinstance(p, URLResolver):
            yield from page_url_names(p.url_patterns, route)
        elif isinstance(p, URLPattern):
            yield p.name or f"<unnamed: {route}>"


def test_every_page_is_in_the_matrix():
    names = set(page_url_names())
    missing = names - set(EXPECTED)
    assert not missing, f"add these pages to the permission matrix in {__file__}: {sorted(missing)}"
    assert set(EXPECTED) <= names, f"pages in the matrix that no longer exist: {sorted(set(EXPECTED) - names)}"


@pytest.fixture
def world(eager_tasks):
    owner = make_user("owner", researcher=True)
    other_owner = make_user("other-owner", researcher=True)
    make_user("newcomer")
    study = make_study(owner, slug="main", items=3)
    other = make_study(other_owner, slug="other", items=2)
    add_annotator(study, "annotator")
    add_annotator(other, "annotator-other")
    get_user_model().objects.create_superuser("admin", "admin@example.org", "pw-admin-123")
    actors = {"annotator": "annotator", "annotator_other": "annotator-other", "researcher_other": "other-owner", "owner": "owner",
              "admin": "admin"}
    failed = ExportJob.objects.create(study=study, format="raw", created_by=owner, status="failed", error="No space left on device")
    return {"actors": actors, "kwargs": {"slug": study.slug, "token": other.invite_token, "job_id": failed.pk},
            "token_before": study.invite_token}


@pytest.fixture
def eager_tasks():
    from config.celery import app

    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = old


def url_for(name, kwargs):
    params = get_resolver().reverse_dict.getlist(name)[0][0][0][1]
    return reverse(name, kwargs={k: kwargs[k] for k in params})


def refused(response, actor) -> bool:
    if actor == "anonymous":
        return response.status_code == 404 or (response.status_code == 302 and response.url.startswith(reverse("login")))
    return response.status_code in (403, 404)


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("actor", ACTORS)
def test_page_permission_matrix(world, name, actor):
    method, payload, allowed, effect = EXPECTED[name]
    client = Client()
    if actor != "anonymous":
        client.force_login(get_user_model().objects.get(username=world["actors"][actor]))
    url = url_for(name, world["kwargs"])
    response = getattr(client, method)(url, payload() if payload else {})
    if actor in allowed:
        assert not refused(response, actor), (name, actor, response.status_code)
        assert response.status_code < 400 or (method == "post" and response.status_code == 400), (name, actor, response.status_code)
        if effect is not None:
            assert effect(world), f"{name} by {actor} was let through but did nothing"
    else:
        assert refused(response, actor), (name, actor, response.status_code, getattr(response, "url", ""))
        if effect is not None:
            assert not effect(world), f"{name} by {actor} was refused but took effect"


def test_joining_needs_an_account_and_makes_an_annotator_only():
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="j", items=1)
    anonymous = Client()
    response = anonymous.post(reverse("join", args=[study.invite_token]), {"action": "join"})
    assert response.status_code == 400
    assert not StudyMembership.objects.filter(study=study, role="annotator").exists()
    user = make_user("someone")
    client = Client()
    client.force_login(user)
    response = client.post(reverse("join", args=[study.invite_token]), {"action": "join"})
    assert response.status_code == 302
    assert StudyMembership.objects.get(study=study, user=user).role == "annotator"
    # An annotator cannot reach the study's researcher pages or the API's manager endpoints.
    assert client.get(reverse("study_detail", args=[study.slug])).status_code == 404
    assert client.get(f"/api/v1/studies/{study.slug}/progress/").status_code == 404


def test_a_replaced_invite_link_no_longer_joins():
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="j", items=1)
    old = study.invite_token
    client = Client()
    client.force_login(owner)
    client.post(reverse("study_invite_reset", args=[study.slug]))
    user = make_user("late")
    late = Client()
    late.force_login(user)
    assert late.post(reverse("join", args=[old]), {"action": "join"}).status_code == 404
    assert not StudyMembership.objects.filter(study=study, user=user).exists()
