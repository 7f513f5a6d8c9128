"""Clients that misbehave, through the API against the real PostgreSQL server: a double
submit (the same key twice at once, or two keys at once), a submit after the lease expired,
a submit for a unit the client does not hold. Each ends with one judgment stored or a clear
refusal, never a duplicate."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from annotation.models import Annotation, Assignment, Unit
from elicitation.services import leases_expire
from tests.factories import add_annotator, make_study, make_user

pytestmark = [
    pytest.mark.faults,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.IS_POSTGRES, reason="races are run against the real PostgreSQL server (set DATABASE_URL)"),
]


def client_for(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def take(client, slug) -> dict:
    response = client.post(f"/api/v1/studies/{slug}/next/")
    assert response.status_code == 200
    return response.json()["unit"]


def submit(client, unit, key, choice=None):
    body = {"response": {"choice": choice or unit["candidates"][0]["id"]}, "idempotency_key": key, "duration_ms": 3000}
    return client.post(f"/api/v1/assignments/{unit['assignment_id']}/submit/", body, content_type="application/json")


def at_once(*calls):
    """Run the calls in threads released together; return their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait()
            results[i] = call()
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@pytest.fixture
def study():
    owner = make_user("owner", researcher=True)
    return make_study(owner, slug="races", items=6, redundancy=1)


def judgments(study) -> int:
    return Annotation.objects.filter(study=study).count()


def test_the_same_submission_twice_at_once_is_stored_once(study):
    user = add_annotator(study, "ann")
    unit = take(client_for(user), study.slug)
    key = uuid.uuid4().hex
    first, second = at_once(lambda: submit(client_for(user), unit, key), lambda: submit(client_for(user), unit, key))
    assert sorted([first.status_code, second.status_code]) == [200, 201], (first.content, second.content)
    assert first.json()["annotation"]["id"] == second.json()["annotation"]["id"]
    assert judgments(study) == 1


def test_the_same_submission_twice_at_once_both_get_the_stored_judgment(study):
    user = add_annotator(study, "ann")
    unit = take(client_for(user), study.slug)
    key = uuid.uuid4().hex
    results = at_once(*[lambda: submit(client_for(user), unit, key) for _ in range(4)])
    assert sorted(r.status_code for r in results) == [200, 200, 200, 201], [r.content[:120] for r in results]


def test_two_different_submissions_at_once_store_one_and_refuse_the_other(study):
    user = add_annotator(study, "ann")
    unit = take(client_for(user), study.slug)
    a, b = unit["candidates"][0]["id"], unit["candidates"][1]["id"]
    first, second = at_once(lambda: submit(client_for(user), unit, uuid.uuid4().hex, a),
                            lambda: submit(client_for(user), unit, uuid.uuid4().hex, b))
    assert sorted([first.status_code, second.status_code]) == [201, 409], (first.content, second.content)
    refusal = first if first.status_code == 409 else second
    assert refusal.json()["code"] == "conflict" and "already submitted" in refusal.json()["detail"]
    assert judgments(study) == 1


def test_a_key_reused_for_another_unit_is_refused(study):
    user = add_annotator(study, "ann")
    client = client_for(user)
    unit = take(client, study.slug)
    key = uuid.uuid4().hex
    following = submit(client, unit, key).json()["next"]["unit"]
    response = submit(client, following, key)
    assert response.status_code == 409 and "another unit" in response.json()["detail"]
    assert judgments(study) == 1


def expire(unit_payload) -> None:
    Assignment.objects.filter(pk=unit_payload["assignment_id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    leases_expire()


def test_a_submission_after_the_lease_expired_is_kept_while_the_unit_has_room(study):
    user = add_annotator(study, "ann")
    client = client_for(user)
    unit = take(client, study.slug)
    expire(unit)
    assert Unit.objects.get(pk=unit["unit_id"]).n_taken == 0  # back in the pool
    response = submit(client, unit, uuid.uuid4().hex)
    assert response.status_code == 201
    stored = Unit.objects.get(pk=unit["unit_id"])
    assert (stored.n_taken, stored.n_done) == (1, 1)
    assert judgments(study) == 1


def test_a_submission_after_the_lease_expired_and_the_unit_filled_is_refused(study):
    late, other = add_annotator(study, "late"), add_annotator(study, "other")
    unit = take(client_for(late), study.slug)
    expire(unit)
    # Someone else gets the unit meanwhile (the pool offers it again) and judges it.
    other_client = client_for(other)
    theirs = take(other_client, study.slug)
    for _ in range(6):
        if theirs["unit_id"] == unit["unit_id"]:
            break
        response = submit(other_client, theirs, uuid.uuid4().hex)
        assert response.status_code == 201
        theirs = response.json()["next"]["unit"]
    assert theirs["unit_id"] == unit["unit_id"]
    assert submit(other_client, theirs, uuid.uuid4().hex).status_code == 201
    response = submit(client_for(late), unit, uuid.uuid4().hex)
    assert response.status_code == 409 and "expired" in response.json()["detail"]
    assert Annotation.objects.filter(unit_id=unit["unit_id"]).count() == 1 == study.redundancy


def test_a_submission_for_a_unit_one_does_not_hold_is_refused(study):
    holder, intruder = add_annotator(study, "holder"), add_annotator(study, "intruder")
    unit = take(client_for(holder), study.slug)
    response = submit(client_for(intruder), unit, uuid.uuid4().hex)
    assert response.status_code == 404 and "do not hold" in response.json()["detail"]
    outsider = make_user("outsider")
    assert submit(client_for(outsider), unit, uuid.uuid4().hex).status_code == 404
    assert submit(Client(), unit, uuid.uuid4().hex).status_code in (401, 403)
    assert judgments(study) == 0
    assert submit(client_for(holder), unit, uuid.uuid4().hex).status_code == 201


def test_many_retries_of_many_submissions_at_once_never_duplicate(study):
    users = [add_annotator(study, f"ann{i}") for i in range(3)]
    units = [take(client_for(u), study.slug) for u in users]
    keys = [uuid.uuid4().hex for _ in users]
    calls = [lambda u=u, unit=unit, key=key: submit(client_for(u), unit, key) for u, unit, key in zip(users, units, keys, strict=True)
             for _ in range(3)]
    results = at_once(*calls)
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert all(r.status_code in (200, 201) for r in results), [r.content[:120] for r in results]
    assert [r.status_code for r in results].count(201) == 3
    assert judgments(study) == 3
    assert Annotation.objects.values("unit").distinct().count() == 3
