"""Redis stopped mid-study: annotators keep receiving and submitting units (the database
alone serves them), signing in still works (its rate limiter fails open), and caching resumes
by itself once Redis is back."""

from __future__ import annotations

import uuid

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.test import Client

from annotation.models import Annotation, Assignment, Unit
from config.cache import FailOpenRedisCache
from tests.factories import PASSWORD, add_annotator, make_study, make_user
from tests.faults.conftest import needs_local_redis, redis_stopped, wait_until

pytestmark = [pytest.mark.faults, needs_local_redis, pytest.mark.django_db(transaction=True)]


def annotate(client: Client, slug: str, n: int) -> list[int]:
    """n judgments through the API as the annotator page sends them; returns annotation ids."""
    response = client.post(f"/api/v1/studies/{slug}/next/")
    assert response.status_code == 200, response.content
    unit = response.json()["unit"]
    stored = []
    for _ in range(n):
        assert unit is not None, "the study ran out of units"
        body = {"response": {"choice": unit["candidates"][0]["id"]}, "idempotency_key": uuid.uuid4().hex, "duration_ms": 4000}
        response = client.post(f"/api/v1/assignments/{unit['assignment_id']}/submit/", body, content_type="application/json")
        assert response.status_code == 201, response.content
        stored.append(response.json()["annotation"]["id"])
        unit = response.json()["next"]["unit"]
    return stored


def fill_key_in_redis(study) -> bool:
    key = cache.make_key(f"study-fill:{study.pk}")
    return bool(redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2).exists(key))


def test_annotators_keep_working_while_redis_is_down_and_caching_resumes():
    assert "FailOpenRedisCache" in settings.CACHES["default"]["BACKEND"]
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="redis-down", items=40, redundancy=2)
    clients = []
    for i in range(3):
        user = add_annotator(study, f"ann{i}")
        client = Client(raise_request_exception=False)
        client.force_login(user)
        clients.append(client)

    FailOpenRedisCache.reset()
    before = [pk for c in clients for pk in annotate(c, study.slug, 3)]
    assert fill_key_in_redis(study), "the study's fill counts are cached in Redis while it is up"

    with redis_stopped():
        during = [pk for c in clients for pk in annotate(c, study.slug, 4)]
        # Pages that read the cache render too.
        assert clients[0].get(f"/studies/{study.slug}/annotate/").status_code == 200
        # Signing in works without Redis: the rate limiter lets the request through.
        make_user("late")
        fresh = Client(raise_request_exception=False)
        response = fresh.post("/login/", {"username": "late", "password": PASSWORD})
        assert response.status_code == 302 and response.url == "/"
        token = fresh.post("/api/v1/auth/token/", {"username": "late", "password": PASSWORD})
        assert token.status_code == 200, token.content

    stored = set(Annotation.objects.filter(study=study).values_list("pk", flat=True))
    assert set(before) | set(during) <= stored
    assert len(stored) == len(before) + len(during) == 3 * 7
    assert Annotation.objects.filter(study=study).values("unit", "annotator").distinct().count() == len(stored)

    # Back: within the failure back-off (a couple of seconds), the cache is written again.
    client = clients[0]

    def cached_again() -> bool:
        cache.delete(f"study-fill:{study.pk}")
        client.post(f"/api/v1/studies/{study.slug}/next/")
        return fill_key_in_redis(study)

    wait_until(cached_again, 20, "the cache to be written again after Redis came back", interval=0.5)
    annotate(client, study.slug, 2)
    for unit in Unit.objects.filter(study=study):
        active = Assignment.objects.filter(unit=unit, status="active").count()
        assert unit.n_taken == unit.n_done + active
        assert unit.n_done == Annotation.objects.filter(unit=unit).count() <= study.redundancy
