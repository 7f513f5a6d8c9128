"""The next-unit pool reads candidates' systems and lengths once per process and study
(they never change), but judge scores every time (they can be uploaded later)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation.models import Assignment, Candidate, Unit
from elicitation import services
from elicitation.strategies import get_strategy
from tests.factories import add_annotator, make_study, make_user


@pytest.fixture(autouse=True)
def _forget_candidates():
    services._candidates_seen.clear()
    yield
    services._candidates_seen.clear()


def candidate_queries(ctx) -> int:
    return sum('FROM "annotation_candidate"' in q["sql"] for q in ctx.captured_queries)


@pytest.mark.django_db
def test_systems_and_lengths_are_read_once_judges_every_time():
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="pool", items=5, redundancy=3, systems=("sys-a", "sys-b", "sys-c"))
    user = add_annotator(study, "ann")
    active = get_strategy("active-bt")
    with CaptureQueriesContext(connection) as first:
        pool = services._pool(study, user, active, set())
    with CaptureQueriesContext(connection) as second:
        again = services._pool(study, user, active, set())
    assert candidate_queries(first) == 1 and candidate_queries(second) == 0
    texts = {c.id: (c.system, len(c.text)) for c in Candidate.objects.filter(item__study=study)}
    for view in again:
        assert view.systems == tuple(texts[c][0] for c in view.candidate_ids)
        assert view.lengths == tuple(texts[c][1] for c in view.candidate_ids)
        assert view.judges == ({}, {})
    assert {v.id for v in pool} == {v.id for v in again} == set(Unit.objects.filter(study=study).values_list("id", flat=True))

    # judge-disagreement sees judge scores uploaded after the first read
    Candidate.objects.filter(item__study=study).update(judges={"metric": 0.25})
    judged = services._pool(study, user, get_strategy("judge-disagreement"), set())
    assert all(view.judges == ({"metric": 0.25}, {"metric": 0.25}) for view in judged)


@pytest.mark.django_db
def test_a_recreated_study_with_the_same_id_is_not_served_stale_systems():
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="pool", items=2, systems=("sys-a", "sys-b"))
    user = add_annotator(study, "ann")
    services._pool(study, user, get_strategy("active-bt"), set())
    key = next(iter(services._candidates_seen))
    services._candidates_seen[key] = {cid: ("stale", 0, services._NO_JUDGES) for cid in services._candidates_seen[key]}
    study.created_at = study.created_at.replace(year=study.created_at.year - 1)  # another study under the same id
    views = services._pool(study, user, get_strategy("active-bt"), set())
    assert all("stale" not in view.systems for view in views)
    assert not Assignment.objects.exists()
