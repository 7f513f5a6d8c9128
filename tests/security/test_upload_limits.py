"""Upload size and row limits: a file over MAX_UPLOAD_BYTES is refused (before its body is
read when the request says its length), a file over MAX_IMPORT_ROWS is refused whole, and each
refusal names what is wrong; nothing of a refused file is stored."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from annotation.errors import Invalid
from annotation.models import Item
from exports.services import judge_scores_import
from tests.factories import make_study, make_user, pairwise_items

pytestmark = pytest.mark.django_db


def items_file(n: int, prefix: str = "up") -> bytes:
    return ("\n".join(json.dumps(i) for i in pairwise_items(n, prefix=prefix)) + "\n").encode()


@pytest.fixture
def owner_and_study():
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="up", items=0)
    client = Client()
    client.force_login(owner)
    return client, study


def test_a_file_over_the_size_limit_is_refused_by_the_page_and_the_api(owner_and_study, settings):
    client, study = owner_and_study
    data = items_file(20)
    settings.MAX_UPLOAD_BYTES = len(data) - 1
    page = client.post(reverse("study_upload", args=[study.slug]), {"file": SimpleUploadedFile("i.jsonl", data), "format": "jsonl"})
    assert page.status_code == 400 and f"larger than {settings.MAX_UPLOAD_BYTES} bytes".encode() in page.content
    api = client.post(f"/api/v1/studies/{study.slug}/items/", {"file": SimpleUploadedFile("i.jsonl", data), "format": "jsonl"})
    assert api.status_code == 400 and api.json()["errors"] == {"file": "too large"}
    assert not Item.objects.filter(study=study).exists()


def test_a_request_announcing_too_large_a_body_is_refused_before_it_is_read(owner_and_study, settings):
    client, study = owner_and_study
    settings.MAX_UPLOAD_BYTES = 1000
    huge = str(settings.MAX_UPLOAD_BYTES + 2 * 1024 * 1024)
    api = client.post(f"/api/v1/studies/{study.slug}/items/", {"file": io.BytesIO(b"{}"), "format": "jsonl"}, CONTENT_LENGTH=huge)
    assert api.status_code == 413 and api.json()["errors"] == {"file": "too large"} and "1000 bytes" in api.json()["detail"]
    page = client.post(reverse("study_upload", args=[study.slug]), {"file": io.BytesIO(b"{}")}, CONTENT_LENGTH=huge)
    assert page.status_code == 413 and b"larger than 1000 bytes" in page.content
    assert not Item.objects.filter(study=study).exists()
    # Anything but a file upload is held to Django's limit for request bodies.
    big = client.post(f"/api/v1/studies/{study.slug}/next/", "{}", content_type="application/json",
                      CONTENT_LENGTH=str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1))
    assert big.status_code == 413 and big.json()["errors"] == {"request": "too large"}


def test_a_file_over_the_row_limit_is_refused_whole(owner_and_study, settings):
    client, study = owner_and_study
    settings.MAX_IMPORT_ROWS = 5
    response = client.post(f"/api/v1/studies/{study.slug}/items/", {"file": SimpleUploadedFile("i.jsonl", items_file(6)), "format": "jsonl"})
    assert response.status_code == 400
    assert "more than 5 items" in response.json()["detail"] and "nothing was imported" in response.json()["detail"]
    assert list(response.json()["errors"]) == ["line 6, file"]
    page = client.post(reverse("study_upload", args=[study.slug]), {"file": SimpleUploadedFile("i.jsonl", items_file(6)), "format": "jsonl"})
    assert page.status_code == 400 and b"more than 5 items" in page.content
    assert not Item.objects.filter(study=study).exists()
    ok = client.post(f"/api/v1/studies/{study.slug}/items/", {"file": SimpleUploadedFile("i.jsonl", items_file(5)), "format": "jsonl"})
    assert ok.status_code == 201 and Item.objects.filter(study=study).count() == 5


def test_judge_scores_have_a_row_limit_too(settings):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="scores", items=3)
    settings.MAX_IMPORT_ROWS = 2
    lines = ["item_id,system,judge,score\n"] + [f"it-{i},sys-a,comet,0.{i}\n" for i in range(3)]
    with pytest.raises(Invalid) as exc:
        judge_scores_import(study=study, lines=lines, format_name="csv")
    assert "more than 2 scores" in exc.value.message
    assert not any("comet" in c.judges for item in study.items.all() for c in item.candidates.all())


def test_a_file_that_is_not_utf8_is_refused_by_name(owner_and_study):
    client, study = owner_and_study
    response = client.post(f"/api/v1/studies/{study.slug}/items/", {"file": SimpleUploadedFile("i.jsonl", b"\xff\xfe\x00bad"), "format": "jsonl"})
    assert response.status_code == 400 and response.json()["errors"] == {"file": "not UTF-8"}
