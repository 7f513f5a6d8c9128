"""The API as a script would use it: token, study from a spec, upload, judge, export."""

import io
import json
import re
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from annotation.models import Annotation, Item, Study, Unit
from tests.factories import PASSWORD, make_user, pairwise_items

pytestmark = pytest.mark.django_db

SPEC = {
    "slug": "summaries-2026-11",
    "name": "Which summary is better?",
    "task_type": "pairwise",
    "task_config": {"allow_tie": True, "allow_both_bad": True, "strength_scale": [-3, 3]},
    "instructions": "Markdown shown to annotators.",
    "redundancy": 2,
    "strategy": {"name": "balanced", "params": {}},
    "quality": {"gold_rate": 0.05, "min_seconds_per_unit": 3},
    "status": "live",
}


def jsonl(items):
    return SimpleUploadedFile("items.jsonl", "\n".join(json.dumps(i) for i in items).encode(), content_type="application/jsonl")


@pytest.fixture
def researcher():
    make_user("res", researcher=True)
    client = APIClient()
    token = client.post("/api/v1/auth/token/", {"username": "res", "password": PASSWORD}, format="json").json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_whole_flow_through_the_api(researcher, django_capture_on_commit_callbacks):
    created = researcher.post("/api/v1/studies/", SPEC, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["strategy"] == {"name": "balanced", "params": {}}
    upload = researcher.post(f"/api/v1/studies/{SPEC['slug']}/items/", {"file": jsonl(pairwise_items(3)), "format": "jsonl"}, format="multipart")
    assert upload.status_code == 201 and upload.json() == {"items": 3, "units_in_study": 3}
    invite = researcher.get(f"/api/v1/studies/{SPEC['slug']}/invite/").json()
    assert invite["url"].endswith(f"/join/{invite['token']}/")

    make_user("ann")
    annotator = APIClient()
    annotator.login(username="ann", password=PASSWORD)
    assert annotator.post(f"/api/v1/join/{invite['token']}/").status_code == 200
    nxt = annotator.post(f"/api/v1/studies/{SPEC['slug']}/next/").json()
    seen = []
    while nxt["unit"]:
        unit = nxt["unit"]
        left = unit["candidates"][0]["id"]
        body = {"response": {"choice": left, "strength": 2}, "idempotency_key": f"k-{unit['unit_id']}", "duration_ms": 4000}
        first = annotator.post(f"/api/v1/assignments/{unit['assignment_id']}/submit/", body, format="json")
        assert first.status_code == 201, first.json()
        retry = annotator.post(f"/api/v1/assignments/{unit['assignment_id']}/submit/", body, format="json")
        assert retry.status_code == 200 and retry.json()["annotation"]["id"] == first.json()["annotation"]["id"]
        seen.append(unit["unit_id"])
        nxt = first.json()["next"]
    assert len(seen) == 3 == Annotation.objects.count()
    assert nxt["progress"]["done"] == 3

    progress = researcher.get(f"/api/v1/studies/{SPEC['slug']}/progress/").json()
    assert progress["judgments"] == 3 and progress["judgments_target"] == 6 and progress["percent"] == 50.0

    with django_capture_on_commit_callbacks(execute=True):
        job = researcher.post(f"/api/v1/studies/{SPEC['slug']}/exports/", {"format": "trl-preference"}, format="json")
    assert job.status_code == 202
    detail = researcher.get(f"/api/v1/exports/{job.json()['id']}/").json()
    assert detail["status"] == "done" and detail["counts"]["pairs_written"] == 3
    download = researcher.get(detail["download_url"])
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    rows = [json.loads(x) for x in archive.read(next(n for n in archive.namelist() if n.endswith(".jsonl"))).decode().splitlines()]
    assert {r["margin"] for r in rows} == {2}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"task_type": "ranking"}, "task_type"),
        ({"task_config": {"allow_ties": True}}, "task_config.allow_ties"),
        ({"task_config": {"strength_scale": [0, 3]}}, "task_config.strength_scale"),
        ({"redundancy": 0}, "redundancy"),
        ({"strategy": {"name": "clairvoyant"}}, "strategy.name"),
        ({"strategy": {"name": "uniform", "params": {"epsilon": 1}}}, "strategy.params.epsilon"),
        ({"quality": {"gold_rate": 2}}, "quality.gold_rate"),
        ({"colour": "red"}, "colour"),
        ({"slug": "Not A Slug"}, "slug"),
    ],
)
def test_bad_spec_names_the_key(researcher, change, field):
    response = researcher.post("/api/v1/studies/", {**SPEC, **change}, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()
    assert not Study.objects.exists()


@pytest.mark.parametrize(
    ("content", "where"),
    [
        ('{"id": "a", "prompt": "p", "candidates": [{"system": "x", "text": "t"}, {"system": "y", "text": "u"}]}\n{"id": "b", "prompt": "p"', "line 2, json"),
        ('{"id": "a", "prompt": "p", "candidates": [{"system": "x", "text": "t"}, {"system": "y", "text": "u"}]}\n{"id": "b", "prompt": "p", "candidates": [{"system": "x"}]}', "line 2, candidates[0].text"),
        ('{"id": "a", "prompt": "p", "candidates": [{"system": "x", "text": "t"}, {"system": "x", "text": "u"}]}', "line 1, candidates[1].system"),
        ('{"id": "a", "prompt": 3, "candidates": [{"system": "x", "text": "t"}]}', "line 1, prompt"),
        ('{"id": "a", "prompt": "p", "candidates": [{"system": "x", "text": "t", "judges": {"bleu": "high"}}]}', "line 1, candidates[0].judges.bleu"),
        ('{"id": "a", "prompt": "p", "candidates": [{"system": "x", "text": "t"}]}', "line 1, candidates"),  # a pair needs two
        ('{"id": "a", "prompt": "p", "candidates": [{"system": "x", "text": "t"}, {"system": "y", "text": "u"}]}\n{"id": "a", "prompt": "p", "candidates": [{"system": "x", "text": "t"}, {"system": "y", "text": "u"}]}', "line 2, id"),
        ("", "file"),
    ],
)
def test_bad_item_file_names_line_and_field_and_stores_nothing(researcher, content, where):
    researcher.post("/api/v1/studies/", SPEC, format="json")
    upload = SimpleUploadedFile("items.jsonl", content.encode(), content_type="application/jsonl")
    response = researcher.post(f"/api/v1/studies/{SPEC['slug']}/items/", {"file": upload}, format="multipart")
    assert response.status_code == 400
    assert where in response.json()["errors"], response.json()
    assert "nothing was imported" in response.json()["detail"] or where == "file"
    assert not Item.objects.exists() and not Unit.objects.exists()


def test_non_researcher_cannot_create_studies():
    make_user("plain")
    client = APIClient()
    client.login(username="plain", password=PASSWORD)
    assert client.post("/api/v1/studies/", SPEC, format="json").status_code == 403


def test_openapi_schema_generates_without_warnings(capsys):
    from django.core.management import call_command

    call_command("spectacular", "--fail-on-warn", "--file", "/dev/null")
    err = capsys.readouterr().err
    assert "Warning" not in err and "Error" not in err, err


def test_prefetch_through_the_api(researcher):
    """The page's flow with ?ahead=1: every response carries the unit on screen and the one
    after it; submitting the first makes the prefetched one current and leases a new one."""
    spec = {**SPEC, "slug": "prefetch"}
    assert researcher.post("/api/v1/studies/", spec, format="json").status_code == 201
    researcher.post("/api/v1/studies/prefetch/items/", {"file": jsonl(pairwise_items(3)), "format": "jsonl"}, format="multipart")
    token = researcher.get("/api/v1/studies/prefetch/invite/").json()["token"]
    make_user("ann")
    annotator = APIClient()
    annotator.login(username="ann", password=PASSWORD)
    annotator.post(f"/api/v1/join/{token}/")
    nxt = annotator.post("/api/v1/studies/prefetch/next/?ahead=1").json()
    shown = [nxt["unit"]["unit_id"], nxt["ahead"]["unit_id"]]
    assert shown[0] != shown[1]
    unit = nxt["unit"]
    body = {"response": {"choice": "tie"}, "idempotency_key": "a1"}
    done = annotator.post(f"/api/v1/assignments/{unit['assignment_id']}/submit/?ahead=1", body, format="json").json()
    assert done["next"]["unit"]["unit_id"] == shown[1]  # the prefetched unit is now the current one
    third = done["next"]["ahead"]
    assert third is not None and third["unit_id"] not in shown
    # without ?ahead the answer keeps its old shape
    plain = annotator.post("/api/v1/studies/prefetch/next/").json()
    assert plain["unit"]["unit_id"] == shown[1] and "ahead" not in plain


def test_api_docs_page_loads_its_scripts_from_this_site(researcher):
    """/api/docs/ works offline: Swagger UI comes from our static files, not a CDN."""
    html = researcher.get("/api/docs/").content.decode()
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', html)
    assert scripts and all(src.startswith("/static/") for src in scripts), scripts
