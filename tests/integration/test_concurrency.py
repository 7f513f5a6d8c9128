"""Many annotators at once against the real PostgreSQL server: no unit handed to one
annotator twice, none beyond its redundancy, no acknowledged submission lost."""

import threading
from collections import Counter

import pytest
from django.conf import settings
from django.db import connection

from annotation.errors import Conflict
from annotation.models import Annotation, Assignment, Unit
from annotation.services import annotation_submit
from elicitation.services import assignment_next_for_annotator
from tests.factories import add_annotator, make_study, make_user

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres,
    pytest.mark.skipif(not settings.IS_POSTGRES, reason="concurrency is tested against the real PostgreSQL server (set DATABASE_URL)"),
]


@pytest.mark.parametrize("strategy", ["uniform", "balanced"])
def test_concurrent_annotators(strategy):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, items=30, redundancy=3, strategy=strategy)
    annotators = [add_annotator(study, f"ann{i}") for i in range(12)]
    acknowledged: list[tuple[int, int]] = []
    refused: list[Conflict] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(len(annotators) * 2)

    def work(user, tab):
        try:
            start.wait()
            for i in range(40):
                a = assignment_next_for_annotator(study=study, user=user)
                if a is None:
                    return
                try:
                    ann, _ = annotation_submit(
                        assignment_id=a.id, user=user, response={"choice": a.display_order[0]}, idempotency_key=f"{user.id}-{tab}-{a.id}"
                    )
                except Conflict as exc:  # the other tab submitted this unit first: a clear refusal
                    refused.append(exc)
                    continue
                with lock:
                    acknowledged.append((ann.pk, a.unit_id))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    # two "tabs" per annotator, to race the same annotator against itself too
    threads = [threading.Thread(target=work, args=(u, t)) for u in annotators for t in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    assert all("already submitted" in str(r) for r in refused)
    stored = set(Annotation.objects.values_list("pk", flat=True))
    assert {pk for pk, _ in acknowledged} <= stored, "an acknowledged submission is missing"
    per_unit = Counter(Annotation.objects.values_list("unit_id", flat=True))
    assert max(per_unit.values()) <= 3
    pairs = Counter(Annotation.objects.values_list("unit_id", "annotator_id"))
    assert max(pairs.values()) == 1, "an annotator judged a unit twice"
    assert sum(per_unit.values()) == 30 * 3  # every unit filled: 12 annotators x 30 units >= 90
    for unit in Unit.objects.filter(study=study):
        assert unit.n_done == per_unit[unit.pk]
        assert unit.n_taken == unit.n_done + Assignment.objects.filter(unit=unit, status="active").count()
