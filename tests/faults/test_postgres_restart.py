"""PostgreSQL stopped and started again mid-study: while it is down, requests fail cleanly
(a quick 503 in the API's error shape, never a 500 or a hang); once it is back, the platform
recovers by itself, a submission retried with its idempotency key is stored once, and no
judgment that was acknowledged before the outage is missing."""

from __future__ import annotations

import time
import uuid

import pytest
from django.test import Client

from annotation.models import Annotation, Assignment, Unit
from tests.factories import add_annotator, make_study, make_user
from tests.faults.conftest import needs_local_postgres, postgres_stopped

pytestmark = [pytest.mark.faults, pytest.mark.postgres, needs_local_postgres, pytest.mark.django_db(transaction=True)]


def submit(client: Client, unit: dict, key: str):
    body = {"response": {"choice": unit["candidates"][0]["id"]}, "idempotency_key": key, "duration_ms": 4000}
    return client.post(f"/api/v1/assignments/{unit['assignment_id']}/submit/", body, content_type="application/json")


def test_requests_fail_cleanly_during_the_outage_and_nothing_acknowledged_is_lost():
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="pg-restart", items=30, redundancy=2)
    clients, units = [], []
    for i in range(3):
        user = add_annotator(study, f"ann{i}")
        client = Client(raise_request_exception=False)
        client.force_login(user)
        clients.append(client)
        units.append(client.post(f"/api/v1/studies/{study.slug}/next/").json()["unit"])

    acknowledged: set[int] = set()
    for _ in range(3):
        for i, client in enumerate(clients):
            response = submit(client, units[i], uuid.uuid4().hex)
            assert response.status_code == 201
            acknowledged.add(response.json()["annotation"]["id"])
            units[i] = response.json()["next"]["unit"]

    pending_key = uuid.uuid4().hex  # the submission in flight when the database goes away
    with postgres_stopped():
        for i, client in enumerate(clients):
            for request in (lambda c=client: c.post(f"/api/v1/studies/{study.slug}/next/"),
                            lambda c=client, u=units[i]: submit(c, u, pending_key if c is clients[0] else uuid.uuid4().hex)):
                started = time.monotonic()
                response = request()
                assert response.status_code == 503, (response.status_code, response.content[:300])
                assert response.json()["code"] == "unavailable" and response.headers["Retry-After"]
                assert time.monotonic() - started < 10, "a request hung while the database was down"
        page = clients[0].get(f"/studies/{study.slug}/annotate/")
        assert page.status_code == 503 and b"Back in a moment" in page.content

    # Back: the same clients carry on. The submission that failed is retried with its key.
    retried = submit(clients[0], units[0], pending_key)
    assert retried.status_code == 201, retried.content
    again = submit(clients[0], units[0], pending_key)  # its answer lost too: stored once
    assert again.status_code == 200 and again.json()["annotation"]["id"] == retried.json()["annotation"]["id"]
    acknowledged.add(retried.json()["annotation"]["id"])
    units[0] = retried.json()["next"]["unit"]
    for i, client in enumerate(clients[1:], start=1):
        held = client.post(f"/api/v1/studies/{study.slug}/next/")
        assert held.status_code == 200 and held.json()["unit"]["assignment_id"] == units[i]["assignment_id"]  # the lease survived
        response = submit(client, units[i], uuid.uuid4().hex)
        assert response.status_code == 201
        acknowledged.add(response.json()["annotation"]["id"])

    stored = set(Annotation.objects.filter(study=study).values_list("pk", flat=True))
    assert acknowledged <= stored, f"acknowledged judgments missing after the restart: {sorted(acknowledged - stored)}"
    assert len(stored) == len(acknowledged)
    for unit in Unit.objects.filter(study=study):
        assert unit.n_done == Annotation.objects.filter(unit=unit).count() <= study.redundancy
        assert unit.n_taken == unit.n_done + Assignment.objects.filter(unit=unit, status="active").count()
