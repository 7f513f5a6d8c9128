"""A real Celery worker, on the real Redis broker and PostgreSQL, killed while it refits the
model state of an active-bt study:

- its pool process killed (SIGKILL) mid-fit: the broker hands the refit back (acks_late,
  reject_on_worker_lost), it runs again in the worker's new pool process and writes the state;
- the whole worker killed mid-fit: the refit stays unacknowledged (the broker would hand it
  back only after its visibility timeout, an hour) and its pending guard stays set; the guard
  expires by itself, after which the next lease queues a new refit, or the periodic safety
  net (refit_stale_studies) refits the study and clears the guard; a new worker completes it;
- a fit that kills its pool process every time (as running out of memory would): handed back
  MAX_REFIT_ATTEMPTS times, then given up with the reason in the worker's log, instead of
  being handed back for ever; refits resume once the give-up window has passed.

Throughout, annotators keep receiving units: the next-unit request reads the cache and never
waits for a refit. Each test's worker listens on a queue of its own, so no other worker on
the same broker takes its tasks; the worker's fit waits at a gate (a file the test removes),
so that the kill lands mid-fit however fast or slow the machine."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection

from annotation.models import Annotation
from annotation.services import annotation_submit
from elicitation import model_state
from elicitation.model_state import (
    breaker,
    cached_state,
    leases_key,
    pending_key,
    state_key,
)
from elicitation.services import assignment_next_for_annotator
from elicitation.tasks import refit_stale_studies, refit_study
from tests.factories import add_annotator, make_study, make_user
from tests.faults.conftest import needs_postgres_and_redis, wait_until
from tests.faults.test_worker_killed import ROOT, Worker

pytestmark = [pytest.mark.faults, pytest.mark.postgres, needs_postgres_and_redis, pytest.mark.django_db(transaction=True)]

SYSTEMS = ("sys-a", "sys-b", "sys-c", "sys-d")
PROMPT = 30.0  # a next-unit request answers within this however loaded the machine (a held fit never ends)
SLOW = 180.0  # worker start-up, redelivery, a fit: all well under this
KEYS = itertools.count()

# The worker's active-bt fit notes its process id in `marker`, kills its own process while
# `crash` exists (a fit that runs out of memory), and waits while `gate` exists.
WORKER = """
import functools, os, signal, sys, time, django
django.setup()
from elicitation.strategies import get_strategy
cls = type(get_strategy("active-bt"))
if not hasattr(cls, "fit_state"):
    sys.exit("the active-bt strategy has no fit_state: update tests/faults/test_refit_killed.py")
original, marker, gate = cls.fit_state, sys.argv[2], sys.argv[3]
crash = os.path.join(os.path.dirname(gate), "crash")
@functools.wraps(original)
def held(self, *args, **kwargs):
    with open(marker, "a") as f:
        f.write(f"{os.getpid()}\\n")
    if os.path.exists(crash):
        os.kill(os.getpid(), signal.SIGKILL)
    deadline = time.monotonic() + 900
    while os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.05)
    return original(self, *args, **kwargs)
cls.fit_state = held
from config.celery import app
app.worker_main(["worker", "-Q", sys.argv[1], "--pool", "prefork", "--concurrency", "1", "--loglevel", "WARNING",
                 "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", "refit-" + sys.argv[1] + "@%h"])
"""


class RefitWorker(Worker):
    def __init__(self, queue: str, marker: Path, gate: Path):
        db = connection.settings_dict
        url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        # The cache prefix (CACHE_PREFIX, set by settings_test in this process) comes along in os.environ.
        env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings_test", "PYTHONPATH": str(ROOT)}
        self.log = (marker.parent / f"worker-{time.monotonic_ns()}.log").open("w")
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER, queue, str(marker), str(gate)], env=env, cwd=ROOT,
                                     start_new_session=True, stdout=self.log, stderr=subprocess.STDOUT)


class Queue:
    def __init__(self, name: str):
        self.name = name
        self.sent: list[int] = []  # study ids of the refits the next-unit requests queued


@pytest.fixture
def queue(monkeypatch):
    """A queue of this test's own: refit_study.delay (called by the next-unit request) sends there."""
    from config.celery import app

    q = Queue(f"faults-refit-{uuid.uuid4().hex[:10]}")

    def delay(study_id):
        q.sent.append(study_id)
        return refit_study.apply_async((study_id,), queue=q.name)

    monkeypatch.setattr(refit_study, "delay", delay)
    # The guard lasts long enough that it cannot lapse by itself during a slow run; the test
    # that needs it gone makes it expire.
    monkeypatch.setattr(model_state, "PENDING_SECONDS", 900)
    before = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield q
    app.conf.task_always_eager = before


@pytest.fixture
def setup(tmp_path):
    breaker.reset()
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="refit-killed", items=10, redundancy=8, strategy="active-bt", systems=SYSTEMS)
    keys = [state_key(study.id), leases_key(study.id), pending_key(study.id), model_state.attempts_key(study.id)]
    cache.delete_many(keys)
    users = [add_annotator(study, f"ann{k}") for k in range(6)]
    gate = tmp_path / "gate"
    gate.touch()
    yield study, users, tmp_path / "fits", gate
    cache.delete_many(keys)


def serve(study, users, *, submit: bool = True) -> int:
    """Each annotator asks for their next unit (and answers it when `submit`): every request
    is answered, and promptly. Returns the number of units served."""
    for user in users:
        started = time.monotonic()
        assignment = assignment_next_for_annotator(study=study, user=user)
        assert time.monotonic() - started < PROMPT, "the next-unit request waited"
        assert assignment is not None, "no unit served"
        if submit:
            annotation_submit(assignment_id=assignment.id, user=user, response={"choice": assignment.display_order[0]},
                              idempotency_key=f"k{next(KEYS)}")
    return len(users)


def fits(marker: Path) -> list[int]:
    """The processes that started a fit, in order."""
    return [int(line) for line in marker.read_text().split()] if marker.exists() else []


def fitted(study, worker: Worker) -> dict:
    """The state a worker wrote, once its refit finished (pending guard cleared)."""
    try:
        wait_until(lambda: cache.get(state_key(study.id)) is not None and cache.get(pending_key(study.id)) is None, SLOW,
                   "the refit to write the state and clear its guard")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nworker output:\n{worker.output()}") from None
    return cache.get(state_key(study.id))


def assert_state_of_every_judgment(study, entry: dict) -> None:
    judgments = Annotation.objects.filter(study=study, superseded_by__isnull=True).count()
    assert judgments > 0
    assert (entry["n_judgments"], entry["n_annotations"]) == (judgments, judgments)
    assert entry["state"]["system"]["n"] == judgments  # the fit itself saw them all
    assert cached_state(study).state, "the next-unit request does not see the state"


def test_a_killed_pool_process_hands_the_refit_back_and_it_completes(setup, queue):
    study, users, marker, gate = setup
    serve(study, users)  # no state yet: the first lease queues a refit, the others find it pending
    assert queue.sent == [study.id]
    worker = RefitWorker(queue.name, marker, gate)
    try:
        wait_until(lambda: len(fits(marker)) == 1, SLOW, "the worker to start fitting")
        first = fits(marker)[0]
        assert worker.pool_pids() == [first], "the fit does not run in the worker's pool process"
        serve(study, users)  # meanwhile annotators get units and answer them (the new attempt will see these)
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: len(fits(marker)) == 2, SLOW, "the refit to be handed back and started again")
        second = fits(marker)[1]
        assert second != first and worker.pool_pids() == [second]
        assert cache.get(state_key(study.id)) is None and cache.get(pending_key(study.id)) is not None
        serve(study, users, submit=False)  # still served while the second attempt fits
        assert queue.sent == [study.id]  # the same refit, handed back: nothing queued twice
        gate.unlink()
        entry = fitted(study, worker)
        assert_state_of_every_judgment(study, entry)
        assert len(fits(marker)) == 2
    finally:
        worker.kill_all()


def redis_ttl(key: str) -> int:
    """The seconds Redis will keep `key` (-1: for ever, -2: no such key)."""
    return cache._cache.get_client(write=False).ttl(cache.make_and_validate_key(key))


def killed_mid_fit(study, users, marker: Path, gate: Path, queue: Queue) -> None:
    """Judgments, a refit queued, and the whole worker killed while it fits."""
    serve(study, users)
    assert queue.sent == [study.id]
    worker = RefitWorker(queue.name, marker, gate)
    try:
        wait_until(lambda: len(fits(marker)) == 1, SLOW, "the worker to start fitting")
    finally:
        worker.kill_all()  # the whole worker, pool and all: its refit stays unacknowledged
    assert cache.get(state_key(study.id)) is None
    ttl = redis_ttl(pending_key(study.id))
    assert 0 < ttl <= model_state.PENDING_SECONDS, f"the guard is left set with no expiry (ttl {ttl})"
    serve(study, users)  # annotators carry on with no state at all (exploration)
    assert queue.sent == [study.id]  # the guard holds: nothing queued while it is set


def test_a_killed_worker_leaves_a_guard_that_expires_and_the_next_lease_queues_the_refit_again(setup, queue):
    study, users, marker, gate = setup
    killed_mid_fit(study, users, marker, gate, queue)

    # Time passes and the guard expires (Redis drops it at its TTL; shortened here, not waited for).
    assert cache.touch(pending_key(study.id), 1)
    wait_until(lambda: cache.get(pending_key(study.id)) is None, 30, "the guard to expire")
    serve(study, users)
    assert queue.sent == [study.id, study.id]  # the next lease queued the refit again
    gate.unlink()
    fresh = RefitWorker(queue.name, marker, gate)
    try:
        entry = fitted(study, fresh)
        assert_state_of_every_judgment(study, entry)
        assert len(fits(marker)) == 2
    finally:
        fresh.kill_all()


def test_a_killed_worker_leaves_a_guard_that_the_periodic_refit_clears(setup, queue, monkeypatch):
    study, users, marker, gate = setup
    killed_mid_fit(study, users, marker, gate, queue)

    # Nobody asks for units any more; the beat's safety net runs (sent to this test's queue).
    gate.unlink()
    fresh = RefitWorker(queue.name, marker, gate)
    try:
        refit_stale_studies.apply_async(queue=queue.name)
        entry = fitted(study, fresh)
        assert_state_of_every_judgment(study, entry)
        # The guard is gone for good: once the state falls behind again, a lease queues a refit.
        monkeypatch.setattr(model_state, "REFIT_EVERY", len(users))
        serve(study, users[:-1])  # answered before the refit is due, so that it reads them all
        assert queue.sent == [study.id]
        serve(study, users[-1:], submit=False)  # the state is REFIT_EVERY leases behind
        assert queue.sent == [study.id, study.id]
        wait_until(lambda: cache.get(state_key(study.id))["n_judgments"] > entry["n_judgments"], SLOW, "the next refit")
        assert_state_of_every_judgment(study, fitted(study, fresh))
    finally:
        fresh.kill_all()


def test_a_refit_that_kills_its_worker_every_time_is_given_up_with_its_reason(setup, queue):
    study, users, marker, gate = setup
    gate.unlink()
    crash = gate.parent / "crash"
    crash.touch()  # every fit of this study kills its pool process (as running out of memory would)
    serve(study, users)
    assert queue.sent == [study.id]
    worker = RefitWorker(queue.name, marker, gate)
    try:
        wait_until(lambda: "given up" in worker.output(), SLOW, "the refit to be given up")
        assert f"{model_state.MAX_REFIT_ATTEMPTS} attempts in a row were interrupted" in worker.output()
        deaths = fits(marker)
        assert len(deaths) == model_state.MAX_REFIT_ATTEMPTS and len(set(deaths)) == len(deaths)
        assert worker.proc.poll() is None and worker.pool_pids(), "the worker itself died"
        assert cache.get(state_key(study.id)) is None
        serve(study, users)  # units are served all along, from no state
        assert queue.sent == [study.id]  # the guard is left to expire: no refit queued at every lease

        # The cause is gone (more memory); once the give-up window has passed (shortened
        # here, not waited for) the beat's safety net refits the study on the same worker.
        crash.unlink()
        assert cache.touch(model_state.attempts_key(study.id), 1)
        wait_until(lambda: cache.get(model_state.attempts_key(study.id)) is None, 30, "the give-up window to pass")
        refit_stale_studies.apply_async(queue=queue.name)
        entry = fitted(study, worker)
        assert_state_of_every_judgment(study, entry)
        assert len(fits(marker)) == model_state.MAX_REFIT_ATTEMPTS + 1
        assert cache.get(model_state.attempts_key(study.id)) is None
    finally:
        worker.kill_all()
