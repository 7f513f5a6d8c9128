"""Property-based fuzzing of the REST API from its own OpenAPI schema (schemathesis): for every
operation, generated requests (valid and not) as a study's owner, against real objects most
of the time. No request may get a 500, and every refusal has the API's one error shape."""

from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token

from elicitation.services import assignment_next_for_annotator
from exports.models import ExportJob, ImportJob
from tests.factories import add_annotator, make_study, make_user

pytestmark = pytest.mark.django_db

EXAMPLES = 30


def api_schema():
    """The schema the API serves (drf-spectacular), as schemathesis reads it."""
    from drf_spectacular.generators import SchemaGenerator

    document = json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True), default=str))
    return schemathesis.openapi.from_dict(document)


try:  # collected without Django (pytest -p no:django): nothing to fuzz
    SCHEMA = api_schema()
    OPERATIONS = sorted((result.ok().method.upper(), result.ok().path) for result in SCHEMA.get_all_operations())
except Exception:  # noqa: BLE001
    SCHEMA, OPERATIONS = None, []


def test_the_schema_has_every_api_route():
    assert len(OPERATIONS) >= 15


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """The app is called as WSGI: keep Django from closing the test's connection (inside its
    transaction) at the end of each request, as Django's own test client does."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def world(db, eager_tasks, keep_the_test_connection):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="main", items=4)
    annotator = add_annotator(study, "annotator")
    assignment = assignment_next_for_annotator(study=study, user=annotator)
    job = ExportJob.objects.create(study=study, format="raw", created_by=owner)
    imported = ImportJob.objects.create(study=study, kind="items", format="jsonl", created_by=owner)
    real = {"slug": "main", "assignment_id": assignment.id, "job_id": job.id, "import_id": imported.id, "token": study.invite_token}
    return {"owner": Token.objects.create(user=owner).key, "annotator": Token.objects.create(user=annotator).key, "real": real}


@pytest.fixture
def eager_tasks():
    from config.celery import app

    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = old


def error_shape_ok(response) -> bool:
    content_type = " ".join(response.headers.get("content-type", response.headers.get("Content-Type", [""])))
    if response.status_code < 400 or response.status_code in (405, 413, 415) or "json" not in content_type:
        return True
    body = response.json()
    return isinstance(body, dict) and isinstance(body.get("detail"), str) and body["detail"] != ""


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_no_request_gets_a_server_error(world, method, path):
    from config.wsgi import application

    operation = SCHEMA[path][method]
    as_annotator = any(part in path for part in ("/submit/", "/next/", "/join/"))
    headers = {"Authorization": f"Token {world['annotator' if as_annotator else 'owner']}"}

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(case=operation.as_strategy(), use_real=st.lists(st.booleans(), min_size=len(world["real"]), max_size=len(world["real"])))
    def run(case, use_real):
        for (name, value), real in zip(sorted(world["real"].items()), use_real, strict=True):  # real objects often, junk otherwise
            if case.path_parameters and name in case.path_parameters and real:
                case.path_parameters[name] = value
        response = case.call(app=application, headers=headers)
        where = f"{case.method} {case.formatted_path}"
        assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:500]}"
        assert error_shape_ok(response), f"{where}: {response.status_code} {response.text[:300]}"

    run()
