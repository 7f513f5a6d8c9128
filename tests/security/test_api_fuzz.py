"""Property-based fuzzing of the REST API from its own OpenAPI schema (schemathesis): for every
operation, generated requests (valid and not) as a study's owner, against real objects most
of the time. No request may get a 500, and every refusal has the API's one error shape."""

from __future__ import annotations

import json
import random

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token

from elicitation.services import assignment_next_for_annotator
from exports.models import ExportJob
from tests.factories import add_annotator, make_study, make_user

pytestmark = pytest.mark.django_db

EXAMPLES = 30


@pytest.fixture
def api_schema():
    from drf_spectacular.generators import SchemaGenerator

    from config.wsgi import application

    document = json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True), default=str))
    schema = schemathesis.openapi.from_dict(document)
    schema.app = application
    return schema


@pytest.fixture(autouse=True)
def world(db, eager_tasks):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="main", items=4)
    annotator = add_annotator(study, "annotator")
    assignment = assignment_next_for_annotator(study=study, user=annotator)
    job = ExportJob.objects.create(study=study, format="raw", created_by=owner)
    real = {"slug": "main", "assignment_id": assignment.id, "job_id": job.id, "token": study.invite_token}
    return {"owner": Token.objects.create(user=owner).key, "annotator": Token.objects.create(user=annotator).key, "real": real}


@pytest.fixture
def eager_tasks():
    from config.celery import app

    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = old


schema = schemathesis.pytest.from_fixture("api_schema")


def error_shape_ok(response) -> bool:
    if response.status_code < 400 or response.status_code in (405, 413, 415) or "json" not in response.headers.get("Content-Type", [""])[0]:
        return True
    body = response.json()
    return isinstance(body, dict) and isinstance(body.get("detail"), str) and body["detail"] != ""


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_request_gets_a_server_error(case, world):
    from config.wsgi import application

    rng = random.Random(repr(case.path_parameters) + repr(case.body)[:200])
    for name, value in world["real"].items():  # real objects most of the time, junk otherwise
        if case.path_parameters and name in case.path_parameters and rng.random() < 0.8:
            case.path_parameters[name] = value
    as_annotator = "submit" in case.operation.path or "next" in case.operation.path or "join" in case.operation.path
    token = world["annotator" if as_annotator else "owner"]
    response = case.call(app=application, headers={"Authorization": f"Token {token}"})
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:500]}"
    assert error_shape_ok(response), f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
