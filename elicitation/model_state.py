"""The model state of a study's strategy: refitted in the background, read from the cache.

The next-unit request never fits anything and never waits for the database on this
account: it reads one cache key, and when the state there is `REFIT_EVERY` units behind
(or older than `REFIT_AFTER_SECONDS` and behind at all) it queues a refit after its
transaction commits. The refit task reads the study's judgments, calls the strategy's
pure `fit_state`, and writes the cache.

Cache keys (Django cache: Redis when REDIS_URL is set, process memory otherwise):
- `elicitation:state:v1:<study id>`: {"state": ..., "mark": int, "fitted_at": float,
  "strategy": name, "params": {...}, "n_judgments": int, "n_annotations": int}, where `state` is what the
  strategy gets as `ctx.state` and `mark` is the lease counter when the refit began;
- `elicitation:leases:<study id>`: units handed out so far (incremented on each lease);
- `elicitation:refit-pending:<study id>`: set while a refit is queued, so requests queue
  at most one (it expires by itself: a refit whose worker was killed never clears it);
- `elicitation:refit-attempts:<study id>`: refits of the study begun and not finished. A
  refit whose worker dies is handed back by the broker (acks_late, reject_on_worker_lost);
  one that kills its worker every time (a fit that runs out of memory) would be handed back
  for ever, so after `MAX_REFIT_ATTEMPTS` the study's refits give up, with the reason in the
  worker's log, until the count expires (`REFIT_GIVE_UP_SECONDS`); units are still served.

When the cache cannot be reached (Redis down), reads fail fast, are treated as "no state"
(the strategy explores: uniform choices) and nothing is queued; the cache is not tried
again for `CACHE_RETRY_SECONDS` in this process, so each request costs at most one failed
connection attempt every few seconds.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models.functions import Length

from annotation.models import Annotation, Candidate, Study, StudyMembership, Unit
from annotation.task_types import get_task_type
from elicitation.state import A_WINS, B_WINS, STATE_VERSION, TIE, Judgment
from elicitation.strategies import get_strategy

log = logging.getLogger(__name__)

REFIT_EVERY = int(getattr(settings, "ELICITATION_REFIT_EVERY", 20))  # units handed out since the last refit
REFIT_AFTER_SECONDS = float(getattr(settings, "ELICITATION_REFIT_AFTER_SECONDS", 300))
PENDING_SECONDS = 120  # a queued refit that never ran stops blocking new ones after this
STATE_TTL = 14 * 24 * 3600
MAX_REFIT_ATTEMPTS = 3  # refits of a study killed mid-fit in a row before they give up
REFIT_GIVE_UP_SECONDS = 3600  # ... for this long (from the first of those attempts)
CACHE_RETRY_SECONDS = 5.0
STATE_MEMO_SECONDS = float(getattr(settings, "ELICITATION_STATE_MEMO_SECONDS", 1.0))  # see cached_state
MEMO_STUDIES = 64  # studies whose state one process keeps at most
LEASE_COUNT_BATCH = int(getattr(settings, "ELICITATION_LEASE_COUNT_BATCH", 4))  # see lease_noted
CHUNK = 5000

OUTCOMES = {"a": A_WINS, "b": B_WINS, "tie": TIE, "both_bad": TIE}


def state_key(study_id: int) -> str:
    return f"elicitation:state:v{STATE_VERSION}:{study_id}"


def leases_key(study_id: int) -> str:
    return f"elicitation:leases:{study_id}"


def pending_key(study_id: int) -> str:
    return f"elicitation:refit-pending:{study_id}"


def attempts_key(study_id: int) -> str:
    return f"elicitation:refit-attempts:{study_id}"


class _Breaker:
    """Skip the cache for a few seconds after it failed, in this process."""

    def __init__(self) -> None:
        self._until = 0.0
        self._lock = threading.Lock()

    def open(self) -> bool:
        return time.monotonic() < self._until

    def trip(self) -> None:
        with self._lock:
            self._until = time.monotonic() + CACHE_RETRY_SECONDS

    def reset(self) -> None:
        with self._lock:
            self._until = 0.0


breaker = _Breaker()


def _cache_call(fn, *args, **kwargs) -> tuple[bool, Any]:
    """(reachable, result) of one cache call; any cache error counts as unreachable."""
    if breaker.open():
        return False, None
    try:
        return True, fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - redis errors, timeouts, bad pickles: all mean "no cache"
        breaker.trip()
        log.warning("elicitation cache unreachable (%s: %s); serving without model state", type(exc).__name__, exc)
        return False, None


@dataclass(frozen=True)
class CachedState:
    """What the next-unit request knows: the strategy's state ({} when none) and enough to
    decide whether a refit is due."""

    state: Mapping[str, Any] = field(default_factory=dict)
    reachable: bool = True
    mark: int = 0
    fitted_at: float = 0.0


# study id -> (monotonic expiry, (created_at, strategy, params) it was read for, CachedState)
_memo: dict[int, tuple[float, tuple, CachedState]] = {}


def cached_state(study: Study) -> CachedState:
    """The study's model state from the cache; never touches the database.

    The entry read is kept in this process for STATE_MEMO_SECONDS: a state of 100 systems
    is some 160 KB to fetch and unpickle, and it changes only when a refit lands (every
    REFIT_EVERY units). A request may so use a state up to that much older than the cache's;
    the propensity it logs is exact for the state it used. A refit in this process replaces
    the memo at once."""
    now = time.monotonic()
    protocol = (study.created_at, study.strategy, study.strategy_params)
    memo = _memo.get(study.id)
    if memo is not None and memo[0] > now and memo[1] == protocol:
        return memo[2]
    ok, entry = _cache_call(cache.get, state_key(study.id))
    if not ok:
        return CachedState(reachable=False)
    if (
        not isinstance(entry, Mapping)
        or entry.get("strategy") != study.strategy
        or entry.get("params") != study.strategy_params
    ):
        found = CachedState()  # none yet, or fitted for another protocol: explore and refit
    else:
        found = CachedState(state=entry["state"], mark=int(entry["mark"]), fitted_at=float(entry["fitted_at"]))
    _remember(study.id, protocol, found)
    return found


def _remember(study_id: int, protocol: tuple, found: CachedState) -> None:
    if len(_memo) >= MEMO_STUDIES and study_id not in _memo:
        _memo.clear()
    _memo[study_id] = (time.monotonic() + STATE_MEMO_SECONDS, protocol, found)


def forget_states() -> None:
    """Drop this process's memo of cached states and its uncounted leases (tests that
    empty the cache call it)."""
    _memo.clear()
    with _uncounted_lock:
        _uncounted.clear()


def refit_due(cached: CachedState, leases: int, now: float) -> bool:
    behind = leases - cached.mark
    return behind >= REFIT_EVERY or (behind > 0 and now - cached.fitted_at >= REFIT_AFTER_SECONDS)


def _count_lease(key: str, n: int) -> int:
    """INCRBY, creating the counter on first use: one round trip once it exists."""
    try:
        return cache.incr(key, n)
    except ValueError:  # no counter yet (Django's incr of a missing key)
        cache.add(key, 0, timeout=None)
        return cache.incr(key, n)


_uncounted: dict[int, int] = {}  # study id -> leases of this process not yet added to the cache's counter
_uncounted_lock = threading.Lock()


def lease_noted(study_id: int, cached: CachedState) -> None:
    """After a lease commits: count it, and queue a refit when the state is behind.
    Never raises (it runs after the annotator's transaction; their unit is theirs).

    A process adds its leases to the cache's counter LEASE_COUNT_BATCH at a time (one
    round trip per batch, not per lease); while a study has no state yet, at once. A
    refit is so queued up to (batch - 1) leases per process later than REFIT_EVERY; a
    process that stops serving a study leaves at most that many uncounted, which the
    periodic refit of stale studies makes up for."""
    if not cached.reachable:
        return
    with _uncounted_lock:
        n = _uncounted.get(study_id, 0) + 1
        if n < LEASE_COUNT_BATCH and cached.state:
            _uncounted[study_id] = n
            return
        _uncounted[study_id] = 0
    ok, leases = _cache_call(_count_lease, leases_key(study_id), n)
    if not ok or not refit_due(cached, int(leases), time.time()):
        return
    ok, queued = _cache_call(cache.add, pending_key(study_id), 1, timeout=PENDING_SECONDS)
    if not ok or not queued:
        return  # a refit is already on its way
    from elicitation.tasks import refit_study

    try:
        refit_study.delay(study_id)
    except Exception:  # broker down: try again on a later request
        log.exception("could not queue a refit of study %s", study_id)
        _cache_call(cache.delete, pending_key(study_id))


# --- the refit (runs in a Celery worker) -------------------------------------------------------


def study_judgments(study: Study) -> list[Judgment]:
    """Every current pairwise judgment of the study's regular units, in the form the fits
    take (a response's overall choice; per-aspect choices are left to analysis). Judgments
    of annotators the quality checks excluded are left out."""
    task_type = get_task_type(study.task_type)
    config = task_type.parse_config(study.task_config)
    excluded = StudyMembership.objects.filter(study=study, excluded=True).values("user_id")
    rows = (
        Annotation.objects.filter(study=study, unit__kind=Unit.Kind.REGULAR, superseded_by__isnull=True)
        .exclude(annotator_id__in=excluded)
        .order_by("id")
        .values_list("item_id", "unit__candidate_ids", "response", "display_order", "annotator_id")
    )
    pending: list[tuple[int, Any, list[int], int]] = []
    wanted: set[int] = set()
    for item_id, candidate_ids, response, display_order, annotator_id in rows.iterator(chunk_size=2000):
        for pair in task_type.records(config, candidate_ids, response).pairs:
            if pair.aspect == "" and pair.outcome in OUTCOMES:
                pending.append((item_id, pair, display_order, annotator_id))
                wanted.update((pair.a, pair.b))
    info = dict(_candidates(wanted))
    out = []
    for item_id, pair, display_order, annotator_id in pending:
        (sys_a, len_a), (sys_b, len_b) = info.get(pair.a, ("", 0)), info.get(pair.b, ("", 0))
        out.append(
            Judgment(
                item_id=item_id,
                a=pair.a,
                b=pair.b,
                system_a=sys_a,
                system_b=sys_b,
                outcome=OUTCOMES[pair.outcome],
                a_first=bool(display_order) and display_order[0] == pair.a,
                annotator_id=annotator_id,
                len_a=len_a,
                len_b=len_b,
            )
        )
    return out


def _candidates(ids: set[int]) -> Iterator[tuple[int, tuple[str, int]]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start : start + CHUNK]
        for cid, system, length in (
            Candidate.objects.filter(id__in=chunk).annotate(length=Length("text")).values_list("id", "system", "length")
        ):
            yield cid, (system, length or 0)


def study_state_refit(*, study_id: int) -> dict[str, Any] | None:
    """Refit the study's strategy state from its judgments and cache it. Returns the cache
    entry (None when the study is gone or its strategy keeps no state)."""
    study = Study.objects.filter(pk=study_id).first()
    ok, _ = _cache_call(cache.add, attempts_key(study_id), 0, timeout=REFIT_GIVE_UP_SECONDS)
    _, attempt = _cache_call(cache.incr, attempts_key(study_id)) if ok else (False, None)
    if attempt is not None and attempt > MAX_REFIT_ATTEMPTS:
        # The previous attempts died with their worker (nothing else leaves the count up):
        # this one would too. Acknowledge it instead of being handed back for ever.
        log.error(
            "refit of study %s given up: %s attempts in a row were interrupted (their worker was killed mid-fit, "
            "e.g. out of memory); units are served from the last state until refits are tried again within %s s",
            study_id, attempt - 1, REFIT_GIVE_UP_SECONDS,
        )
        return None  # the pending guard is left to expire: requests queue at most one such refit per PENDING_SECONDS
    try:
        if study is None:
            return None
        strategy = get_strategy(study.strategy)
        fit_state = getattr(strategy, "fit_state", None)
        if fit_state is None or not getattr(strategy, "needs_state", False):
            return None
        _, mark = _cache_call(cache.get, leases_key(study_id), 0)  # before reading: later leases count as behind
        params = strategy.parse_params(study.strategy_params)
        n_annotations = Annotation.objects.filter(study=study, superseded_by__isnull=True).count()
        judgments = study_judgments(study)
        previous = cached_state(study).state
        warm = "previous" in inspect.signature(fit_state).parameters
        entry = {
            "state": fit_state(judgments, params, previous=previous) if warm else fit_state(judgments, params),
            "mark": int(mark or 0),
            "fitted_at": time.time(),
            "strategy": study.strategy,
            "params": study.strategy_params,
            "n_judgments": len(judgments),
            "n_annotations": n_annotations,
        }
        ok, _ = _cache_call(cache.set, state_key(study_id), entry, timeout=STATE_TTL)
        if not ok:
            raise ConnectionError(f"could not write the model state of study {study_id} to the cache")
        _memo.pop(study_id, None)  # this process serves the new state from its next request
        return entry
    finally:
        _cache_call(cache.delete_many, [pending_key(study_id), attempts_key(study_id)])  # not reached if killed


def stale_studies_refit() -> int:
    """Refit every live study whose cached state misses judgments (the periodic safety
    net: a lost counter or a flushed cache cannot leave a study unfitted for long)."""
    refitted = 0
    for study in Study.objects.filter(status=Study.Status.LIVE):
        try:
            strategy = get_strategy(study.strategy)
        except KeyError:
            continue
        if not getattr(strategy, "needs_state", False) or not hasattr(strategy, "fit_state"):
            continue
        ok, entry = _cache_call(cache.get, state_key(study.id))
        if not ok:
            break
        done = Annotation.objects.filter(study=study, superseded_by__isnull=True).count()
        if (
            not isinstance(entry, Mapping)
            or entry.get("n_annotations", -1) < done
            or entry.get("strategy") != study.strategy
            or entry.get("params") != study.strategy_params
        ):
            study_state_refit(study_id=study.id)
            refitted += 1
    return refitted
