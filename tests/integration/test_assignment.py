"""Leasing invariants: redundancy, no repeats, reload returns the held unit, expiry."""

from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.errors import Conflict, Invalid, NotAllowed, NotFound
from annotation.models import Annotation, Assignment, Unit
from annotation.services import annotation_submit
from elicitation.services import assignment_next_for_annotator, leases_expire
from tests.factories import add_annotator, make_study, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return make_user("owner", researcher=True)


def judge(study, user, n):
    done = []
    for i in range(n):
        a = assignment_next_for_annotator(study=study, user=user)
        if a is None:
            break
        annotation_submit(assignment_id=a.id, user=user, response={"choice": a.display_order[0]}, idempotency_key=f"{user.id}-{i}")
        done.append(a.unit_id)
    return done


def test_reload_returns_the_held_unit(owner):
    study = make_study(owner, items=3)
    ann = add_annotator(study, "ann")
    first = assignment_next_for_annotator(study=study, user=ann)
    again = assignment_next_for_annotator(study=study, user=ann)
    assert first.id == again.id
    assert Assignment.objects.filter(annotator=ann, status="active").count() == 1


def test_nobody_gets_a_unit_twice_and_none_beyond_redundancy(owner):
    study = make_study(owner, items=5, redundancy=2)
    annotators = [add_annotator(study, f"ann{i}") for i in range(4)]
    seen = {a.id: judge(study, a, 10) for a in annotators}
    for units in seen.values():
        assert len(units) == len(set(units))
    assert sum(len(u) for u in seen.values()) == 5 * 2
    assert all(u.n_done == 2 and u.n_taken == 2 for u in Unit.objects.filter(study=study))
    assert assignment_next_for_annotator(study=study, user=annotators[0]) is None


def test_balanced_fills_fewest_first(owner):
    study = make_study(owner, items=4, redundancy=3, strategy="balanced")
    a1, a2 = add_annotator(study, "a1"), add_annotator(study, "a2")
    judge(study, a1, 4)
    taken = [assignment_next_for_annotator(study=study, user=a2)]
    # a2 can only be offered units with one judgment (all have one); a new annotator after a2 submits
    annotation_submit(assignment_id=taken[0].id, user=a2, response={"choice": "tie"}, idempotency_key="k")
    a3 = add_annotator(study, "a3")
    nxt = assignment_next_for_annotator(study=study, user=a3)
    assert nxt.unit_id != taken[0].unit_id  # the unit with 2 judgments comes last
    assert nxt.propensity == pytest.approx(1 / 3)


def test_expired_lease_returns_to_pool_and_late_submit_is_kept_if_room(owner):
    study = make_study(owner, items=1, redundancy=1)
    a1, a2 = add_annotator(study, "a1"), add_annotator(study, "a2")
    lease = assignment_next_for_annotator(study=study, user=a1)
    assert assignment_next_for_annotator(study=study, user=a2) is None
    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert leases_expire(study=study) == 1
    assert Unit.objects.get().n_taken == 0
    # nobody else took it: the late submission is kept
    annotation_submit(assignment_id=lease.id, user=a1, response={"choice": "tie"}, idempotency_key="late")
    assert Unit.objects.get().n_done == 1
    assert assignment_next_for_annotator(study=study, user=a2) is None


def test_late_submit_refused_when_unit_was_filled(owner):
    study = make_study(owner, items=1, redundancy=1)
    a1, a2 = add_annotator(study, "a1"), add_annotator(study, "a2")
    lease = assignment_next_for_annotator(study=study, user=a1)
    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    other = assignment_next_for_annotator(study=study, user=a2)
    assert other.unit_id == lease.unit_id
    annotation_submit(assignment_id=other.id, user=a2, response={"choice": "tie"}, idempotency_key="a2")
    with pytest.raises(Conflict, match="expired"):
        annotation_submit(assignment_id=lease.id, user=a1, response={"choice": "tie"}, idempotency_key="a1")
    assert Annotation.objects.count() == 1


def test_double_submit_same_key_stores_one(owner):
    study = make_study(owner, items=2)
    ann = add_annotator(study, "ann")
    lease = assignment_next_for_annotator(study=study, user=ann)
    first, created = annotation_submit(assignment_id=lease.id, user=ann, response={"choice": "tie"}, idempotency_key="same")
    again, created_again = annotation_submit(assignment_id=lease.id, user=ann, response={"choice": "tie"}, idempotency_key="same")
    assert created and not created_again and first.pk == again.pk
    with pytest.raises(Conflict, match="already submitted"):
        annotation_submit(assignment_id=lease.id, user=ann, response={"choice": "tie"}, idempotency_key="other")
    assert Annotation.objects.count() == 1


def test_bad_response_is_refused_with_field_errors_and_nothing_saved(owner):
    study = make_study(owner, items=1, task_config={"allow_tie": False})
    ann = add_annotator(study, "ann")
    lease = assignment_next_for_annotator(study=study, user=ann)
    with pytest.raises(Invalid) as exc:
        annotation_submit(assignment_id=lease.id, user=ann, response={"choice": 999999}, idempotency_key="x")
    assert "response.choice" in exc.value.errors
    with pytest.raises(Invalid) as exc:
        annotation_submit(assignment_id=lease.id, user=ann, response={"choice": "tie"}, idempotency_key="y")
    assert "response.choice" in exc.value.errors
    assert Annotation.objects.count() == 0
    assert Assignment.objects.get(pk=lease.pk).status == "active"


def test_submit_for_a_unit_not_held_is_refused(owner):
    study = make_study(owner, items=2)
    a1, a2 = add_annotator(study, "a1"), add_annotator(study, "a2")
    lease = assignment_next_for_annotator(study=study, user=a1)
    with pytest.raises(NotFound):
        annotation_submit(assignment_id=lease.id, user=a2, response={"choice": "tie"}, idempotency_key="x")


def test_draft_study_hands_out_nothing(owner):
    study = make_study(owner, items=2, status="draft")
    ann = add_annotator(study, "ann")
    with pytest.raises(NotAllowed, match="draft"):
        assignment_next_for_annotator(study=study, user=ann)


def test_counters_follow_judgments_and_progress_reads_them(owner):
    from annotation.models import StudyMembership
    from annotation.selectors import annotator_progress, study_fill

    study = make_study(owner, items=4, redundancy=2)
    study.refresh_from_db()
    assert study.n_units == 4
    a1, a2 = add_annotator(study, "a1"), add_annotator(study, "a2")
    judge(study, a1, 3)
    judge(study, a2, 1)
    m1 = StudyMembership.objects.get(study=study, user=a1)
    assert (m1.n_judged, m1.n_regular) == (3, 3)
    assert annotator_progress(study, a1)["done"] == 3
    from django.core.cache import cache

    cache.delete(f"study-fill:{study.pk}")
    assert study_fill(study) == {"study_judgments": 4, "study_target": 8}
    # a protocol change through the service keeps the counter another service keeps
    from annotation.services import study_update

    stale = type(study).objects.get(pk=study.pk)
    stale.n_units = 0  # an instance loaded before items arrived
    study_update(study=stale, changes={"name": "renamed"})
    study.refresh_from_db()
    assert study.n_units == 4 and study.name == "renamed"


def test_prefetch_holds_the_following_unit_and_serves_it_next(owner):
    from elicitation.services import assignments_for_annotator

    study = make_study(owner, items=4, redundancy=1)
    ann = add_annotator(study, "ann")
    first, second = assignments_for_annotator(study=study, user=ann, count=2)
    assert first.unit_id != second.unit_id
    # a reload returns the same two, oldest first; a plain request the one on screen
    assert [a.id for a in assignments_for_annotator(study=study, user=ann, count=2)] == [first.id, second.id]
    assert assignment_next_for_annotator(study=study, user=ann).id == first.id
    # both leases count against redundancy: another annotator gets neither
    other = add_annotator(study, "other")
    taken = judge(study, other, 10)
    assert set(taken).isdisjoint({first.unit_id, second.unit_id}) and len(taken) == 2
    annotation_submit(assignment_id=first.id, user=ann, response={"choice": "tie"}, idempotency_key="p1")
    after = assignments_for_annotator(study=study, user=ann, count=2)
    assert [a.id for a in after] == [second.id]  # nothing else is left
    annotation_submit(assignment_id=second.id, user=ann, response={"choice": "tie"}, idempotency_key="p2")
    assert assignments_for_annotator(study=study, user=ann, count=2) == []


def test_prefetch_never_leases_past_a_crowd_quota(owner):
    from annotation.models import StudyMembership
    from elicitation.services import assignments_for_annotator

    study = make_study(owner, items=6, redundancy=1)
    study.crowd = {"platform": "prolific", "quota": 1}
    study.save(update_fields=["crowd"])
    worker = add_annotator(study, "worker")
    StudyMembership.objects.filter(study=study, user=worker).update(platform="prolific", worker_id="W1", platform_session="S1")
    held = assignments_for_annotator(study=study, user=worker, count=2)
    assert len(held) == 1
