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

import json
import random
import time
from collections.abc import Mapping
from datetime import timedelta
from functools import partial
from types import MappingProxyType

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Length
from django.utils import timezone

from annotation import counters
from annotation.errors import NotAllowed
from annotation.models import Assignment, Candidate, Study, StudyMembership, Unit
from annotation.quality import check_lease
from annotation.task_types import get_task_type
from elicitation import model_state
from elicitation.strategies import Context, UnitView, get_strategy

POOL_SIZE = 200  # units offered to a strategy, unless it asks for fewer (`pool_size`)
MAX_TRIES = 8
EXPIRY_SWEEP_SECONDS = 5.0
MAX_AHEAD = 1  # leases an annotator may hold beyond the unit on screen (the page's prefetch)
_last_sweep: dict[int, float] = {}  # study id -> monotonic time of this process's last sweep


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


def _held(study: Study, user, count: int) -> list[Assignment]:
    """This annotator's live leases, oldest first (at most ``count``)."""
    held = list(
        Assignment.objects.filter(study=study, annotator=user, status=Assignment.Status.ACTIVE, expires_at__gt=timezone.now())
        .order_by("created_at", "id")[:count]
    )
    for assignment in held:
        assignment.study = study
    return held


# The pool: units still needing judgments that this annotator never held, in the strategy's
# order, by an index range scan (unit_pool_random or unit_pool_fewest). Plain SQL because it
# runs on every lease and the ORM spent more CPU building it than the database answering it;
# the same text runs on PostgreSQL and SQLite.
_POOL_SQL = (
    f"SELECT u.id, u.item_id, u.candidate_ids, u.n_taken FROM {Unit._meta.db_table} u"
    " WHERE u.study_id = %s AND u.kind = %s AND u.n_taken < %s{where}"
    f" AND NOT EXISTS (SELECT 1 FROM {Assignment._meta.db_table} a WHERE a.unit_id = u.id AND a.annotator_id = %s)"
    " ORDER BY {order} LIMIT %s"
)
_POOL_ORDER = {"fewest": "u.n_taken, u.rand", "random": "u.rand"}


def _pool_rows(study: Study, user, order: str, where: str, params: list, exclude: set[int], size: int) -> list[tuple]:
    if exclude:
        where += f" AND u.id NOT IN ({', '.join(['%s'] * len(exclude))})"
        params = [*params, *sorted(exclude)]
    sql = _POOL_SQL.format(where=where, order=_POOL_ORDER[order])
    with connection.cursor() as cursor:
        cursor.execute(sql, [study.pk, Unit.Kind.REGULAR.value, study.redundancy, *params, user.pk, size])
        rows = cursor.fetchall()
    return [(uid, item_id, json.loads(cids) if isinstance(cids, str) else cids, n) for uid, item_id, cids, n in rows]


def _pool(study: Study, user, strategy, exclude: set[int]) -> list[UnitView]:
    size = getattr(strategy, "pool_size", POOL_SIZE)
    if strategy.pool_order == "fewest":
        rows = _pool_rows(study, user, "fewest", "", [], exclude, size)
    else:
        start = random.random()  # a random window of the units in random-key order
        rows = _pool_rows(study, user, "random", " AND u.rand >= %s", [start], exclude, size)
        if len(rows) < size:
            rows += _pool_rows(study, user, "random", " AND u.rand < %s", [start], exclude, size - len(rows))
    if not getattr(strategy, "needs_candidates", False):
        return [
            UnitView(uid, item_id, tuple(cids), ("",) * len(cids), (0,) * len(cids), n, (_NO_JUDGES,) * len(cids))
            for uid, item_id, cids, n in rows
        ]
    info = _candidate_info(study, [cid for row in rows for cid in row[2]], getattr(strategy, "needs_judges", False))
    views = []
    for unit_id, item_id, candidate_ids, n_taken in rows:
        if len(candidate_ids) == 2:  # pairwise: the common case, without generators
            a, b = candidate_ids
            ia, ib = info.get(a, _UNKNOWN), info.get(b, _UNKNOWN)
            views.append(UnitView(unit_id, item_id, (a, b), (ia[0], ib[0]), (ia[1], ib[1]), n_taken, (ia[2], ib[2])))
            continue
        cands = [info.get(cid, _UNKNOWN) for cid in candidate_ids]
        views.append(
            UnitView(
                unit_id,
                item_id,
                tuple(candidate_ids),
                tuple(c[0] for c in cands),
                tuple(c[1] for c in cands),
                n_taken,
                tuple(c[2] for c in cands),
            )
        )
    return views


_NO_JUDGES: Mapping[str, float] = MappingProxyType({})
_UNKNOWN = ("", 0, _NO_JUDGES)  # a candidate gone since the pool was read
_candidates_seen: dict[tuple[int, object], dict[int, tuple[str, int, Mapping]]] = {}  # (study, created) -> {candidate: (system, length, no judges)}


def _candidate_info(study: Study, ids: list[int], with_judges: bool) -> Mapping[int, tuple[str, int, Mapping]]:
    """System, length and (when asked) judge scores of the pool's candidates (a mapping
    that holds at least those ids). System and text never change once imported, so this
    process remembers them per study and asks the database only for candidates it has not
    seen; judge scores can be uploaded later and are always read."""
    if with_judges:
        return {
            cid: (system, length or 0, judges)
            for cid, system, length, judges in Candidate.objects.filter(id__in=ids)
            .annotate(length=Length("text"))
            .values_list("id", "system", "length", "judges")
        }
    key = (study.pk, study.created_at)
    known = _candidates_seen.get(key)
    if known is None:
        if len(_candidates_seen) >= 64:
            _candidates_seen.clear()
        known = _candidates_seen[key] = {}
    missing = [cid for cid in ids if cid not in known]
    if missing:
        rows = Candidate.objects.filter(id__in=missing).annotate(length=Length("text")).values_list("id", "system", "length")
        known.update((cid, (system, length or 0, _NO_JUDGES)) for cid, system, length in rows)
    return known


def _display_order(study: Study, candidate_ids: list[int], rng: np.random.Generator) -> list[int]:
    if get_task_type(study.task_type).parse_config(study.task_config).get("randomize_order", True):
        return [int(c) for c in rng.permutation(candidate_ids)]
    return list(candidate_ids)


def quota_reached(study: Study, membership: StudyMembership, holding: int = 0) -> bool:
    """A crowd worker who has judged (or holds, ``holding``) the study's quota of regular
    units gets no more."""
    quota = int(study.crowd.get("quota", 0) or 0)
    if not quota or not membership.worker_id or membership.platform == "import":
        return False
    return membership.n_regular + holding >= quota


def _expire_due(study: Study) -> bool:
    """Whether this process should sweep the study's expired leases now: at most every
    EXPIRY_SWEEP_SECONDS per study (a sweep is a query, and the periodic task sweeps every
    study anyway); a lease request that finds the pool empty sweeps regardless."""
    now = time.monotonic()
    if now - _last_sweep.get(study.pk, -EXPIRY_SWEEP_SECONDS) < EXPIRY_SWEEP_SECONDS:
        return False
    _last_sweep[study.pk] = now
    return True


def assignment_next_for_annotator(*, study: Study, user) -> Assignment | None:
    """The unit this annotator holds, or a newly leased one; None when nothing is left."""
    held = assignments_for_annotator(study=study, user=user, count=1)
    return held[0] if held else None


def assignments_for_annotator(*, study: Study, user, count: int = 1) -> list[Assignment]:
    """The units this annotator holds, oldest first, topped up with new leases to ``count``
    (1; or 2 when the annotator page fetches the following unit in advance); fewer when
    nothing more is left for them, none at all at the end."""
    return leases_for_annotator(study=study, user=user, count=count)[0]


def leases_for_annotator(*, study: Study, user, count: int = 1) -> tuple[list[Assignment], StudyMembership | None]:
    """assignments_for_annotator, and the annotator's membership as read under its lock
    (its counters are the progress the page shows; None when the study is not live)."""
    if not 1 <= count <= MAX_AHEAD + 1:
        raise ValueError(f"count must be between 1 and {MAX_AHEAD + 1}")
    if study.status != Study.Status.LIVE:
        if study.status == Study.Status.PAUSED:
            held = _held(study, user, count)  # a paused study still lets you finish what you hold
            if held:
                return held, None
        raise NotAllowed(f"This study is {study.status}: no new units are handed out.")
    if _expire_due(study):
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
        # The membership row lock serialises this annotator's requests (two tabs, a double
        # click): what they hold is read under it, so a reload returns the same units.
        membership = StudyMembership.objects.select_for_update().filter(study=study, user=user).first()
        if membership is None:
            raise NotAllowed("You are not an annotator of this study.")
        held = _held(study, user, count)
        if len(held) >= count:
            return held, membership
        if membership.excluded:
            # Excluded by the quality checks: their judgments would not count, so no more units.
            raise NotAllowed("The quality checks of this study excluded you: no more units are handed out.")
        while len(held) < count:
            if quota_reached(study, membership, holding=len(held)):
                break
            assignment = _lease_one(study, user, strategy, ctx, rng, lease)
            if assignment is None:
                break
            if cached is not None and assignment.strategy == strategy.name:
                # Count the lease and queue a refit if the state is behind, once committed.
                transaction.on_commit(partial(model_state.lease_noted, study.id, cached), robust=True)
            held.append(assignment)
    return held, membership


def _lease_one(study: Study, user, strategy, ctx: Context, rng: np.random.Generator, lease: timedelta) -> Assignment | None:
    """One new lease, under the annotator's membership lock: a quality-control unit when one
    is due, else the strategy's choice from the pool; None when nothing is left."""
    check = check_lease(study=study, user=user, rng=rng, lease=lease)  # gold, attention, swapped repeat
    if check is not None:
        return check
    tried: set[int] = set()
    swept = False
    for _ in range(MAX_TRIES):
        pool = _pool(study, user, strategy, tried)
        if not pool and not swept:
            swept = True  # units may be waiting behind expired leases: return them, look again
            if leases_expire(study=study):
                pool = _pool(study, user, strategy, tried)
        if not pool:
            return check_lease(study=study, user=user, rng=rng, lease=lease, finishing=True)
        choice = strategy.choose(ctx, pool, rng)
        if counters.add(Unit, {"id": choice.unit_id}, below=("n_taken", study.redundancy), n_taken=1):
            unit = next(u for u in pool if u.id == choice.unit_id)
            # No IntegrityError to expect: the pool left out units this annotator ever held,
            # read under their membership lock.
            assignment = Assignment.objects.create(
                study=study,
                unit_id=unit.id,
                annotator=user,
                strategy=strategy.name,
                propensity=choice.propensity,
                display_order=_display_order(study, list(unit.candidate_ids), rng),
                expires_at=timezone.now() + lease,
            )
            assignment.study = study
            return assignment
        tried.add(choice.unit_id)
    return None
