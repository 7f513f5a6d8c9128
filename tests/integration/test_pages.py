"""Server-rendered pages without a browser: who may see what, and that form and upload
errors come back next to the field (or line) they name, with nothing stored."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from annotation.models import Item, Study, StudyMembership
from exports.models import ExportJob
from tests.factories import (
    PASSWORD,
    add_annotator,
    make_study,
    make_user,
    pairwise_items,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return make_user("owner", researcher=True)


@pytest.fixture
def study(owner):
    return make_study(owner, slug="s1", items=3, redundancy=1)


@pytest.fixture
def eager_tasks():
    """Run Celery tasks in-process even when REDIS_URL is set (no worker uses the test DB)."""
    from config.celery import app

    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = old


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def study_urls(slug: str) -> dict[str, str]:
    return {
        "detail": reverse("study_detail", args=[slug]),
        "annotate": reverse("study_annotate", args=[slug]),
        "done": reverse("study_done", args=[slug]),
    }


# --- access rules ---------------------------------------------------------------------------


@pytest.mark.parametrize("name,args", [("home", []), ("study_new", []), ("study_detail", ["s1"]), ("study_annotate", ["s1"]), ("study_done", ["s1"])])
def test_anonymous_is_sent_to_sign_in(study, name, args):
    url = reverse(name, args=args)
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize("name", ["study_status", "study_upload", "study_invite_reset", "study_researcher_add", "study_export_create"])
def test_anonymous_posts_are_sent_to_sign_in(study, name):
    response = Client().post(reverse(name, args=["s1"]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_sign_in_page_and_sign_in(owner):
    client = Client()
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert b"csrfmiddlewaretoken" in page.content
    response = client.post(reverse("login"), {"username": "owner", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert client.get(reverse("home")).status_code == 200
    out = client.post(reverse("logout"))
    assert out.status_code == 302 and out["Location"] == reverse("login")


def test_owner_sees_the_study_page_with_its_spec(owner, study):
    response = client_for(owner).get(reverse("study_detail", args=["s1"]))
    assert response.status_code == 200
    spec = json.loads(re.search(r'<pre class="code spec" id="spec-json">(.*?)</pre>', response.content.decode(), re.DOTALL).group(1).replace("&quot;", '"'))
    assert spec == study.spec()
    page = response.content.decode()
    assert reverse("join", args=[study.invite_token]) in page
    assert "Add researcher" in page  # owner only


def test_a_researcher_of_the_study_sees_it_but_cannot_add_researchers(owner, study):
    colleague = make_user("colleague", researcher=True)
    StudyMembership.objects.create(study=study, user=colleague, role="researcher")
    client = client_for(colleague)
    page = client.get(reverse("study_detail", args=["s1"]))
    assert page.status_code == 200
    assert "Add researcher" not in page.content.decode()
    make_user("someone")
    client.post(reverse("study_researcher_add", args=["s1"]), {"username": "someone"})
    assert not StudyMembership.objects.filter(study=study, user__username="someone").exists()


def test_researcher_of_another_study_gets_404(owner, study):
    other = make_user("other", researcher=True)
    make_study(other, slug="s2", items=1)
    client = client_for(other)
    for url in study_urls("s1").values():
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"Not found" in response.content
    for name in ("study_status", "study_upload", "study_invite_reset", "study_export_create"):
        assert client.post(reverse(name, args=["s1"]), {"status": "closed"}).status_code == 404
    study.refresh_from_db()
    assert study.status == "live"


def test_annotator_of_another_study_gets_404(owner, study):
    other_study = make_study(owner, slug="s2", items=1)
    stranger = add_annotator(other_study, "stranger")
    client = client_for(stranger)
    for url in study_urls("s1").values():
        assert client.get(url).status_code == 404, url
    assert client.get(reverse("study_annotate", args=["s2"])).status_code == 200


def test_annotator_may_annotate_but_not_manage(study):
    ann = add_annotator(study, "ann")
    client = client_for(ann)
    assert client.get(reverse("study_detail", args=["s1"])).status_code == 404
    assert client.post(reverse("study_status", args=["s1"]), {"status": "closed"}).status_code == 404
    page = client.get(reverse("study_annotate", args=["s1"]))
    assert page.status_code == 200
    assert page["Content-Security-Policy"].startswith("default-src 'self'")
    assert "csrftoken" in page.cookies
    assert client.get(reverse("study_done", args=["s1"])).status_code == 200


def test_owner_is_not_an_annotator(owner, study):
    assert client_for(owner).get(reverse("study_annotate", args=["s1"])).status_code == 404


def test_unknown_study_is_404(owner):
    assert client_for(owner).get(reverse("study_detail", args=["nope"])).status_code == 404


# --- home -----------------------------------------------------------------------------------


def test_home_lists_studies_by_role(owner, study):
    ann = add_annotator(study, "ann")
    researcher_home = client_for(owner).get(reverse("home")).content.decode()
    assert "New study" in researcher_home
    assert reverse("study_detail", args=["s1"]) in researcher_home
    annotator_home = client_for(ann).get(reverse("home")).content.decode()
    assert "New study" not in annotator_home
    assert reverse("study_annotate", args=["s1"]) in annotator_home
    assert "Start" in annotator_home
    assert f'href="{reverse("study_detail", args=["s1"])}"' not in annotator_home


# --- new study ------------------------------------------------------------------------------


def study_form(**overrides):
    data = {
        "slug": "summaries-1",
        "name": "Which summary is better?",
        "task_type": "pairwise",
        "task_config": '{"allow_tie": true}',
        "instructions": "Pick the **better** summary.",
        "redundancy": "2",
        "strategy": "uniform",
        "strategy_params": "{}",
        "quality": '{"min_seconds_per_unit": 3}',
        "status": "draft",
    }
    data.update(overrides)
    return data


def field_errors(html: str, field: str) -> list[str]:
    block = re.search(rf'<div class="field has-error" id="f-{field}">(.*?)</div>', html, re.DOTALL)
    return re.findall(r'<p class="error" data-field="[^"]+">(.*?)</p>', block.group(1)) if block else []


def test_new_study_form_shows_defaults(owner):
    page = client_for(owner).get(reverse("study_new")).content.decode()
    assert "&quot;allow_tie&quot;: true" in page  # the task type's default config is shown
    assert "&quot;lease_seconds&quot;: 900" in page
    assert page.count("csrfmiddlewaretoken") >= 1


def test_new_study_is_created_and_shows_its_spec(owner):
    client = client_for(owner)
    response = client.post(reverse("study_new"), study_form())
    assert response.status_code == 302
    assert response["Location"] == reverse("study_detail", args=["summaries-1"])
    study = Study.objects.get(slug="summaries-1")
    assert study.owner == owner and study.redundancy == 2 and study.quality["min_seconds_per_unit"] == 3
    page = client.get(response["Location"]).content.decode()
    assert "&quot;min_seconds_per_unit&quot;: 3" in page


@pytest.mark.parametrize(
    "overrides,field,expected",
    [
        ({"task_config": '{"allow_tie": "yes"}'}, "task_config", "task_config.allow_tie: must be true or false"),
        ({"task_config": '{"colour": 1}'}, "task_config", "task_config.colour: unknown key"),
        ({"task_config": '{"allow_tie": tru'}, "task_config", "not valid JSON"),
        ({"slug": "Bad Slug!"}, "slug", "slug: use 1-100 lowercase letters"),
        ({"redundancy": "0"}, "redundancy", "redundancy: must be a whole number from 1 to 100"),
        ({"strategy_params": '{"epsilon": 0.1}'}, "strategy_params", "strategy.params.epsilon: unknown parameter"),
        ({"quality": '{"gold_rate": 2}'}, "quality", "quality.gold_rate: must be a number from 0 to 0.5"),
        ({"quality": "[1, 2]"}, "quality", "must be a JSON object"),
    ],
)
def test_new_study_errors_name_the_field_and_keep_the_input(owner, overrides, field, expected):
    data = study_form(**overrides)
    response = client_for(owner).post(reverse("study_new"), data)
    assert response.status_code == 400
    html = response.content.decode()
    errors = field_errors(html, f"id_{field}")
    assert any(expected in e for e in errors), (field, errors)
    assert not Study.objects.exists()
    # what the user typed is still there
    assert 'value="Which summary is better?"' in html
    assert "Pick the **better** summary." in html


def test_new_study_slug_taken(owner, study):
    response = client_for(owner).post(reverse("study_new"), study_form(slug="s1"))
    assert response.status_code == 400
    assert any("slug: already taken" in e for e in field_errors(response.content.decode(), "id_slug"))
    assert Study.objects.count() == 1


def test_plain_users_may_not_create_studies():
    plain = make_user("plain")
    client = client_for(plain)
    assert client.get(reverse("study_new")).status_code == 403
    assert client.post(reverse("study_new"), study_form()).status_code == 403
    assert not Study.objects.exists()


# --- study page actions ---------------------------------------------------------------------


def jsonl(items) -> bytes:
    return "\n".join(json.dumps(i) for i in items).encode()


def upload(client, slug, content: bytes, name="items.jsonl"):
    return client.post(reverse("study_upload", args=[slug]), {"file": SimpleUploadedFile(name, content), "format": "jsonl"})


def test_upload_success_says_how_many_items(owner):
    study = make_study(owner, slug="empty", items=0)
    client = client_for(owner)
    response = upload(client, "empty", jsonl(pairwise_items(5)))
    assert response.status_code == 302
    assert Item.objects.filter(study=study).count() == 5
    page = client.get(response["Location"]).content.decode()
    assert "Imported 5 items from items.jsonl" in page


@pytest.mark.parametrize(
    "line2,where",
    [
        ('{"id": "x", "prompt": "p", "candidates": [{"system": "a", "text": 5}]}', "line 2, candidates[0].text"),
        ('{"id": "x", "prompt": "p"}', "line 2, candidates"),
        ('{"id": "x", "prompt": "p", "candidates": [{"system": "a", "text": "t"}], "colour": 1}', "line 2, colour"),
        ("{not json", "line 2, json"),
        ('{"id": "it-0", "prompt": "p", "candidates": [{"system": "a", "text": "t"}, {"system": "b", "text": "u"}]}', "line 2, id"),
    ],
)
def test_upload_errors_name_line_and_field_and_store_nothing(owner, line2, where):
    study = make_study(owner, slug="empty", items=0)
    good = json.dumps(pairwise_items(1)[0])
    response = upload(client_for(owner), "empty", f"{good}\n{line2}\n".encode())
    assert response.status_code == 400
    html = response.content.decode()
    block = re.search(r'<div class="alert alert-error" role="alert" id="upload-errors">(.*?)</div>', html, re.DOTALL).group(1)
    assert "Nothing was imported" in block
    assert f'<span class="mono">{where}</span>' in block, block
    assert Item.objects.filter(study=study).count() == 0


def test_upload_not_utf8(owner):
    make_study(owner, slug="empty", items=0)
    response = upload(client_for(owner), "empty", b"\xff\xfe\x00garbage")
    assert response.status_code == 400
    assert "not UTF-8" in response.content.decode()
    assert not Item.objects.exists()


def test_upload_without_file(owner, study):
    response = client_for(owner).post(reverse("study_upload", args=["s1"]), {"format": "jsonl"})
    assert response.status_code == 400
    assert field_errors(response.content.decode(), "id_upload_file")


def test_status_buttons(owner, study):
    client = client_for(owner)
    assert 'data-status-action="paused"' in client.get(reverse("study_detail", args=["s1"])).content.decode()
    client.post(reverse("study_status", args=["s1"]), {"status": "paused"})
    study.refresh_from_db()
    assert study.status == "paused"
    response = client.post(reverse("study_status", args=["s1"]), {"status": "bogus"}, follow=True)
    study.refresh_from_db()
    assert study.status == "paused"
    assert "status: must be one of" in response.content.decode()
    assert client.get(reverse("study_status", args=["s1"])).status_code == 405


def test_invite_reset(owner, study):
    old = study.invite_token
    client_for(owner).post(reverse("study_invite_reset", args=["s1"]))
    study.refresh_from_db()
    assert study.invite_token != old
    assert Client().get(reverse("join", args=[old])).status_code == 404


def test_owner_adds_a_researcher(owner, study):
    make_user("colleague")
    client = client_for(owner)
    response = client.post(reverse("study_researcher_add", args=["s1"]), {"username": "colleague"})
    assert response.status_code == 302
    assert StudyMembership.objects.get(study=study, user__username="colleague").role == "researcher"
    missing = client.post(reverse("study_researcher_add", args=["s1"]), {"username": "ghost"})
    assert missing.status_code == 400
    assert any("No user named" in e for e in field_errors(missing.content.decode(), "id_researcher_username"))


def test_export_start_and_errors(owner, study, eager_tasks, django_capture_on_commit_callbacks):
    client = client_for(owner)
    bad = client.post(reverse("study_export_create", args=["s1"]), {"format": "trl-preference", "options": '{"aggregate": "sum"}'})
    assert bad.status_code == 400
    assert any("options.aggregate" in e for e in field_errors(bad.content.decode(), "id_export_options"))
    assert not ExportJob.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        ok = client.post(reverse("study_export_create", args=["s1"]), {"format": "trl-preference", "options": "{}"})
    assert ok.status_code == 302
    job = ExportJob.objects.get()
    assert job.status == "done"
    page = client.get(reverse("study_detail", args=["s1"])).content.decode()
    assert f'data-job="{job.pk}" data-status="done"' in page
    assert reverse("api-export-download", args=[job.pk]) in page


# --- join -----------------------------------------------------------------------------------


def test_join_with_an_invalid_token_is_a_clear_404():
    response = Client().get(reverse("join", args=["not-a-token"]))
    assert response.status_code == 404
    assert "This invite link is not valid" in response.content.decode()


def test_join_by_signing_up(study):
    client = Client()
    url = reverse("join", args=[study.invite_token])
    page = client.get(url)
    assert page.status_code == 200 and "Sign up and join" in page.content.decode()
    response = client.post(url, {"action": "signup", "signup-username": "newbie", "signup-password1": PASSWORD, "signup-password2": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("study_annotate", args=["s1"])
    user = get_user_model().objects.get(username="newbie")
    assert not user.has_perm("annotation.add_study") and not user.is_staff
    assert StudyMembership.objects.get(study=study, user=user).role == "annotator"
    assert client.get(response["Location"]).status_code == 200


def test_join_sign_up_errors_keep_the_user_out(study):
    url = reverse("join", args=[study.invite_token])
    response = Client().post(url, {"action": "signup", "signup-username": "newbie", "signup-password1": "short", "signup-password2": "short"})
    assert response.status_code == 400
    assert not get_user_model().objects.filter(username="newbie").exists()


def test_join_by_signing_in(study):
    make_user("returning")
    client = Client()
    url = reverse("join", args=[study.invite_token])
    response = client.post(url, {"action": "signin", "signin-username": "returning", "signin-password": PASSWORD})
    assert response.status_code == 302
    assert StudyMembership.objects.filter(study=study, user__username="returning", role="annotator").exists()


def test_join_when_signed_in(study):
    user = make_user("someone")
    client = client_for(user)
    url = reverse("join", args=[study.invite_token])
    assert "Join and start" in client.get(url).content.decode()
    assert client.post(url, {"action": "join"})["Location"] == reverse("study_annotate", args=["s1"])
    assert client.get(url)["Location"] == reverse("study_annotate", args=["s1"])  # already joined


def test_join_a_closed_study(owner):
    closed = make_study(owner, slug="closed", status="closed", items=1)
    user = make_user("late")
    client = client_for(user)
    url = reverse("join", args=[closed.invite_token])
    assert "closed" in client.get(url).content.decode()
    response = client.post(url, {"action": "join"})
    assert response.status_code == 403
    assert not StudyMembership.objects.filter(study=closed, user=user).exists()


def test_owner_following_the_invite_is_not_made_an_annotator(owner, study):
    response = client_for(owner).post(reverse("join", args=[study.invite_token]), {"action": "join"})
    assert response["Location"] == reverse("study_detail", args=["s1"])
    assert StudyMembership.objects.get(study=study, user=owner).role == "researcher"


# --- annotate and done ----------------------------------------------------------------------


def test_instructions_are_rendered_as_sanitized_markdown(owner):
    study = make_study(
        owner,
        slug="md",
        items=1,
        instructions='# Task\n\nPick the **better** one. <script>alert(1)</script> <img src="http://evil.example/x.png" onerror="alert(2)">\n\n[guide](https://example.org/guide) [bad](javascript:alert(3))',
    )
    ann = add_annotator(study, "ann")
    html = client_for(ann).get(reverse("study_annotate", args=["md"])).content.decode()
    md = re.search(r'<div class="md">(.*?)</div>', html, re.DOTALL).group(1)
    assert "<h1>Task</h1>" in md and "<strong>better</strong>" in md
    assert "<script" not in md and "<img" not in md and "onerror" not in md and "javascript:" not in md
    assert 'href="https://example.org/guide"' in md and 'rel="nofollow noopener noreferrer"' in md


def test_done_page_counts_judgments(study):
    from annotation.services import annotation_submit
    from elicitation.services import assignment_next_for_annotator

    ann = add_annotator(study, "ann")
    for i in range(2):
        a = assignment_next_for_annotator(study=study, user=ann)
        annotation_submit(assignment_id=a.id, user=ann, response={"choice": a.display_order[0]}, idempotency_key=f"k{i}")
    html = client_for(ann).get(reverse("study_done", args=["s1"])).content.decode()
    assert "You judged <strong>2</strong> units" in html


def test_ids_are_unique_on_every_page(owner, study):
    for url in (reverse("study_detail", args=["s1"]), reverse("study_new"), reverse("home")):
        ids = re.findall(r'\sid="([^"]+)"', client_for(owner).get(url).content.decode())
        assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_every_post_form_carries_a_csrf_token(owner, study):
    ann = add_annotator(study, "ann")
    pages = [
        (owner, reverse("home")),
        (owner, reverse("study_new")),
        (owner, reverse("study_detail", args=["s1"])),
        (ann, reverse("study_annotate", args=["s1"])),
        (make_user("visitor"), reverse("join", args=[study.invite_token])),
    ]
    for user, url in pages:
        html = client_for(user).get(url).content.decode()
        forms = re.findall(r"<form[^>]*method=\"post\"[^>]*>(.*?)</form>", html, re.DOTALL)
        assert forms, url
        assert all("csrfmiddlewaretoken" in f for f in forms), url
    anonymous = Client().get(reverse("join", args=[study.invite_token])).content.decode()
    forms = re.findall(r"<form[^>]*method=\"post\"[^>]*>(.*?)</form>", anonymous, re.DOTALL)
    assert len(forms) == 2 and all("csrfmiddlewaretoken" in f for f in forms)


def test_pages_work_with_csrf_checks_on(owner, study):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post(reverse("study_status", args=["s1"]), {"status": "paused"}).status_code == 403
    page = client.get(reverse("study_detail", args=["s1"])).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert client.post(reverse("study_status", args=["s1"]), {"status": "paused", "csrfmiddlewaretoken": token}).status_code == 302
