"""Leasing units to annotators: the one place that locks.

Invariants, on PostgreSQL under any concurrency and on SQLite:
- a unit never has more judgments + active leases than the study's redundancy: a lease is
  taken by a conditional `UPDATE ... SET n_taken = n_taken + 1 WHERE n_taken < redundancy`,
  which the database serializes per row;
- nobody gets the same unit twice: a unique constraint on (unit, annotator);
- one annotator's concurrent requests (two tabs, a double click) are serialized by a row lock
  on its membership, so a reload returns the unit it already holds;
- expired leases return to the pool (lazily here, and by a periodic task).
"""

from __future__ import annotations

import random
from datetime import timedelta
from functools import partial

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Length
from django.utils import timezone

from annotation.errors import NotAllowed
from annotation.models import Assignment, Candidate, Study, StudyMembership, Unit
from annotation.quality import check_lease
from annotation.task_types import get_task_type
from elicitation import model_state
from elicitation.strategies import Context, UnitView, get_strategy

POOL_SIZE = 200
MAX_TRIES = 8


def leases_expire(*, study: Study | None = None, limit: int = 1000) -> int:
    """Return expired leases' units to the pool. Safe to run concurrently."""
    stale = Assignment.objects.filter(status=Assignment.Status.ACTIVE, expires_at__lte=timezone.now())
    if study is not None:
        stale = stale.filter(study=study)
    returned = 0
    for assignment_id, unit_id in stale.values_list("id", "unit_id")[:limit]:
        with transaction.atomic():
            if Assignment.objects.filter(pk=assignment_id, status=Assignment.Status.ACTIVE).update(status=Assignment.Status.EXPIRED):
                Unit.objects.filter(pk=unit_id).update(n_taken=F("n_taken") - 1)
                returned += 1
    return returned


def _held(study: Study, user) -> Assignment | None:
    return (
        Assignment.objects.select_related("study", "unit__item")
        .filter(study=study, annotator=user, status=Assignment.Status.ACTIVE, expires_at__gt=timezone.now())
        .order_by("created_at")
        .first()
    )


def _pool(study: Study, user, order: str, exclude: set[int], with_candidates: bool) -> list[UnitView]:
    base = (
        Unit.objects.filter(study=study, kind=Unit.Kind.REGULAR, n_taken__lt=study.redundancy)
        .exclude(assignments__annotator=user)
        .exclude(pk__in=exclude)
    )
    fields = ("id", "item_id", "candidate_ids", "n_taken")
    if order == "fewest":
        rows = list(base.order_by("n_taken", "rand").values_list(*fields)[:POOL_SIZE])
    else:
        start = random.random()
        rows = list(base.filter(rand__gte=start).order_by("rand").values_list(*fields)[:POOL_SIZE])
        if len(rows) < POOL_SIZE:
            rows += list(base.filter(rand__lt=start).order_by("rand").values_list(*fields)[: POOL_SIZE - len(rows)])
    info: dict[int, tuple[str, int, dict]] = {}
    if with_candidates:
        ids = [cid for row in rows for cid in row[2]]
        info = {
            cid: (system, length, judges)
            for cid, system, length, judges in Candidate.objects.filter(id__in=ids)
            .annotate(length=Length("text"))
            .values_list("id", "system", "length", "judges")
        }
    views = []
    for unit_id, item_id, candidate_ids, n_taken in rows:
        cands = [info.get(cid, ("", 0, {})) for cid in candidate_ids]
        views.append(
            UnitView(
                id=unit_id,
                item_id=item_id,
                candidate_ids=tuple(candidate_ids),
                systems=tuple(c[0] for c in cands),
                lengths=tuple(c[1] for c in cands),
                n_taken=n_taken,
                judges=tuple(c[2] for c in cands),
            )
        )
    return views


def _display_order(study: Study, candidate_ids: list[int], rng: np.random.Generator) -> list[int]:
    if get_task_type(study.task_type).parse_config(study.task_config).get("randomize_order", True):
        return [int(c) for c in rng.permutation(candidate_ids)]
    return list(candidate_ids)


def quota_reached(study: Study, membership: StudyMembership) -> bool:
    """A crowd worker who has judged the study's quota of regular units gets no more."""
    quota = int(study.crowd.get("quota", 0) or 0)
    if not quota or not membership.worker_id or membership.platform == "import":
        return False
    done = Assignment.objects.filter(
        study=study, annotator_id=membership.user_id, status=Assignment.Status.SUBMITTED, unit__kind=Unit.Kind.REGULAR
    ).count()
    return done >= quota


def assignment_next_for_annotator(*, study: Study, user) -> Assignment | None:
    """The unit this annotator holds, or a newly leased one; None when nothing is left."""
    held = _held(study, user)
    if held is not None:
        return held
    if study.status != Study.Status.LIVE:
        raise NotAllowed(f"This study is {study.status}: no new units are handed out.")
    leases_expire(study=study)
    strategy = get_strategy(study.strategy)
    rng = np.random.default_rng()
    # Model state comes from the cache only (refits run in the background); unreachable
    # cache = no state, and the strategy explores.
    cached = model_state.cached_state(study) if getattr(strategy, "needs_state", False) else None
    ctx = Context(
        annotator_id=user.id,
        redundancy=study.redundancy,
        params=study.strategy_params,
        state=cached.state if cached is not None else {},
    )
    lease = timedelta(seconds=float(study.quality.get("lease_seconds", settings.LEASE_SECONDS)))
    with transaction.atomic():
        membership = StudyMembership.objects.select_for_update().filter(study=study, user=user).first()
        if membership is None:
            raise NotAllowed("You are not an annotator of this study.")
        held = _held(study, user)  # another request of the same annotator may have won the lock
        if held is not None:
            return held
        if membership.excluded:
            # Excluded by the quality checks: their judgments would not count, so no more units.
            raise NotAllowed("The quality checks of this study excluded you: no more units are handed out.")
        if quota_reached(study, membership):
            return None
        check = check_lease(study=study, user=user, rng=rng, lease=lease)  # gold, attention, swapped repeat
        if check is not None:
            return check
        tried: set[int] = set()
        for _ in range(MAX_TRIES):
            pool = _pool(study, user, strategy.pool_order, tried, getattr(strategy, "needs_candidates", False))
            if not pool:
                return check_lease(study=study, user=user, rng=rng, lease=lease, finishing=True)
            choice = strategy.choose(ctx, pool, rng)
            if Unit.objects.filter(pk=choice.unit_id, n_taken__lt=study.redundancy).update(n_taken=F("n_taken") + 1):
                unit = next(u for u in pool if u.id == choice.unit_id)
                try:
                    with transaction.atomic():
                        assignment = Assignment.objects.create(
                            study=study,
                            unit_id=unit.id,
                            annotator=user,
                            strategy=strategy.name,
                            propensity=choice.propensity,
                            display_order=_display_order(study, list(unit.candidate_ids), rng),
                            expires_at=timezone.now() + lease,
                        )
                except IntegrityError:
                    # Held before (the pool read raced with our own earlier lease): give it back.
                    Unit.objects.filter(pk=unit.id).update(n_taken=F("n_taken") - 1)
                    tried.add(unit.id)
                    continue
                if cached is not None:
                    # Count the lease and queue a refit if the state is behind, once committed.
                    transaction.on_commit(partial(model_state.lease_noted, study.id, cached), robust=True)
                return Assignment.objects.select_related("study", "unit__item").get(pk=assignment.pk)
            tried.add(choice.unit_id)
    return None
