"""A permission matrix over every API endpoint, generated from the URL configuration: a new
endpoint without an entry in EXPECTED fails the test, so none can be forgotten."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from elicitation.services import assignment_next_for_annotator
from exports.models import ExportJob, ImportJob
from tests.factories import add_annotator, make_study, make_user

pytestmark = pytest.mark.django_db

ACTORS = ["anonymous", "annotator_other", "annotator", "researcher_other", "owner", "admin"]
AUTHENTICATED = set(ACTORS) - {"anonymous"}
MANAGERS = {"owner", "admin"}

# url name -> (method, actors that get through; everybody else must be refused)
EXPECTED = {
    "api-token": ("post", set(ACTORS)),  # public by design (rate-limited)
    "schema": ("get", set(ACTORS)),
    "api-docs": ("get", set(ACTORS)),
    "api-studies": ("get", AUTHENTICATED),
    "api-study": ("get", MANAGERS),
    "api-study-items": ("post", MANAGERS),
    "api-study-judgments": ("post", MANAGERS),
    "api-study-progress": ("get", MANAGERS),
    "api-study-report": ("get", MANAGERS),
    "api-study-invite": ("get", MANAGERS),
    "api-study-researchers": ("post", {"owner"}),
    "api-next": ("post", {"annotator"}),
    "api-study-exports": ("get", MANAGERS),
    "api-submit": ("post", {"annotator"}),
    "api-join": ("post", AUTHENTICATED),
    "api-export": ("get", MANAGERS),
    "api-export-download": ("get", MANAGERS),
    "api-task-types": ("get", AUTHENTICATED),
    "api-strategies": ("get", AUTHENTICATED),
    "api-formats": ("get", AUTHENTICATED),
    "api-export-retry": ("post", MANAGERS),
    "api-study-imports": ("post", MANAGERS),
    "api-import": ("get", MANAGERS),
}


def api_url_names(patterns=None, prefix=""):
    for p in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(p, URLResolver):
            if str(p.pattern).startswith("admin/"):
                continue
            yield from api_url_names(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern) and p.name and (prefix + str(p.pattern)).startswith("api/"):
            yield p.name


def test_every_api_endpoint_is_in_the_matrix():
    missing = set(api_url_names()) - set(EXPECTED)
    assert not missing, f"add these endpoints to the permission matrix: {sorted(missing)}"


@pytest.fixture
def world():
    owner = make_user("owner", researcher=True)
    other_owner = make_user("other-owner", researcher=True)
    study = make_study(owner, slug="main", items=3)
    other = make_study(other_owner, slug="other", items=2)
    join_target = make_study(other_owner, slug="join-target", items=1)
    annotator = add_annotator(study, "annotator")
    annotator_other = add_annotator(other, "annotator-other")
    admin = get_user_model().objects.create_superuser("admin", "admin@example.org", "pw-admin-123")
    assignment = assignment_next_for_annotator(study=study, user=annotator)
    job = ExportJob.objects.create(study=study, format="raw", created_by=owner)
    imported = ImportJob.objects.create(study=study, kind="items", format="jsonl", created_by=owner)
    users = {"annotator": annotator, "annotator_other": annotator_other, "researcher_other": other_owner, "owner": owner, "admin": admin}
    kwargs = {"slug": study.slug, "assignment_id": assignment.id, "job_id": job.id, "import_id": imported.id, "token": join_target.invite_token}
    return users, kwargs


def url_for(name, kwargs):
    from django.urls import get_resolver

    params = get_resolver().reverse_dict.getlist(name)[0][0][0][1]
    return reverse(name, kwargs={k: kwargs[k] for k in params})


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("actor", ACTORS)
def test_permission_matrix(world, name, actor):
    users, kwargs = world
    client = APIClient()
    if actor != "anonymous":
        client.force_authenticate(users[actor])
    method, allowed = EXPECTED[name]
    response = getattr(client, method)(url_for(name, kwargs), {}, format="json" if method == "post" else None)
    if actor in allowed:
        assert response.status_code not in (401, 403, 404), (name, actor, response.status_code, getattr(response, "data", None))
    else:
        assert response.status_code in (401, 403, 404), (name, actor, response.status_code)


def test_study_list_shows_only_ones_own_studies(world):
    users, _ = world
    client = APIClient()
    client.force_authenticate(users["researcher_other"])
    slugs = {s["slug"] for s in client.get("/api/v1/studies/").json()}
    assert slugs == {"other", "join-target"}
    client.force_authenticate(users["annotator"])
    assert [s["slug"] for s in client.get("/api/v1/studies/").json()] == ["main"]
    assert client.get("/api/v1/studies/").json()[0]["role"] == "annotator"


def test_annotator_sees_neither_systems_nor_others_responses(world):
    users, kwargs = world
    client = APIClient()
    client.force_authenticate(users["annotator"])
    unit = client.post(f"/api/v1/studies/{kwargs['slug']}/next/").json()["unit"]
    assert set(unit["candidates"][0]) == {"id", "text"}  # no system name, no judge scores
    assert client.get(f"/api/v1/studies/{kwargs['slug']}/exports/").status_code == 404
    assert client.get(f"/api/v1/studies/{kwargs['slug']}/progress/").status_code == 404
