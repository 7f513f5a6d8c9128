"""Active elicitation end to end: the next-unit request reads the cached model state (and
only that), a refit task writes it, requests queue refits, a dead cache degrades to
exploration instead of an error, and `simulate` drives the real services."""

import itertools
import logging
import time

import numpy as np
import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import override_settings

from annotation.models import Annotation, Study, Unit
from annotation.services import annotation_submit
from elicitation import model_state
from elicitation.model_state import (
    attempts_key,
    breaker,
    cached_state,
    leases_key,
    pending_key,
    state_key,
    study_state_refit,
)
from elicitation.services import assignment_next_for_annotator
from elicitation.strategies import get_strategy
from elicitation.tasks import refit_study
from tests.factories import add_annotator, make_study, make_user

SYSTEMS = ("sys-a", "sys-b", "sys-c", "sys-d")
KEYS = itertools.count()


@pytest.fixture(autouse=True)
def _fresh_cache_state():
    breaker.reset()
    yield
    breaker.reset()


def forget(study):
    """Tests reuse study ids (rolled back), and the cache outlives a test: start clean."""
    cache.delete_many([state_key(study.id), leases_key(study.id), pending_key(study.id), attempts_key(study.id)])


@pytest.fixture
def owner(db):
    return make_user("owner", researcher=True)


def active_study(owner, *, items=6, redundancy=3, strategy="active-bt", slug="act"):
    study = make_study(owner, slug=slug, items=items, redundancy=redundancy, strategy=strategy, systems=SYSTEMS)
    forget(study)
    return study


def unit_systems(assignment):
    return tuple(sorted(c.system for c in assignment.unit.item.candidates.filter(id__in=assignment.unit.candidate_ids)))


def judge_all(study, users, n, prefer="sys-a"):
    """Annotators take and answer units: `prefer`'s candidate wins, otherwise the first shown."""
    done = 0
    for i in range(n):
        user = users[i % len(users)]
        a = assignment_next_for_annotator(study=study, user=user)
        if a is None:
            continue
        by_system = {c.system: c.id for c in a.unit.item.candidates.filter(id__in=a.unit.candidate_ids)}
        choice = by_system.get(prefer, a.display_order[0])
        annotation_submit(assignment_id=a.id, user=user, response={"choice": choice}, idempotency_key=f"k{next(KEYS)}")
        done += 1
    return done


def crafted_state(study, plan_pair=("sys-c", "sys-d")):
    """A cache entry as a refit would write it, planning every comparison for one pair."""
    strategy = get_strategy("active-bt")
    scores = np.array([-1.0, 1.0, 0.0, 0.05])
    cov = np.eye(4) * 0.05
    state = {
        "system": {"players": SYSTEMS, "scores": scores, "cov": cov, "nu": 0.2, "position": 0.1, "position_sd": 0.05, "n": 100},
        "tables_for": ("system", "misorder"),
        "tables": {"*": {"": {}}},
        "plans": {"*": {plan_pair: 1.0}},
    }
    return {
        "state": state,
        "mark": 0,
        "fitted_at": time.time(),
        "strategy": "active-bt",
        "params": strategy.parse_params({}),
        "n_judgments": 100,
        "n_annotations": 100,
    }


@pytest.mark.django_db
def test_next_unit_with_active_bt_follows_the_cached_state_without_refitting(owner, monkeypatch, seeded):
    study = active_study(owner, redundancy=20)  # no unit fills up: the pool stays the whole study
    cache.set(state_key(study.id), crafted_state(study), 600)

    def no_database_fit(*args, **kwargs):
        raise AssertionError("the next-unit request must not read judgments or fit")

    monkeypatch.setattr(model_state, "study_judgments", no_database_fit)
    monkeypatch.setattr(type(get_strategy("active-bt")), "fit_state", no_database_fit)
    pool = Unit.objects.filter(study=study).count()  # 6 items x 6 pairs = 36 < POOL_SIZE
    cd_units = 6
    picks = []
    for k in range(12):
        ann = add_annotator(study, f"ann{k}")
        a = assignment_next_for_annotator(study=study, user=ann)
        picks.append(unit_systems(a))
        on_plan = unit_systems(a) == ("sys-c", "sys-d")
        expected = 0.1 / pool + (0.9 / cd_units if on_plan else 0.0)
        assert a.strategy == "active-bt"
        assert a.propensity == pytest.approx(expected)
    assert picks.count(("sys-c", "sys-d")) >= 8  # 90% greedy (seeded: unseeded, P(< 8 of 12) = 0.2%)


@pytest.mark.django_db
def test_each_process_keeps_the_state_it_read_for_a_moment(owner, monkeypatch):
    """The state (160 KB at 100 systems) is not fetched and unpickled on every request:
    a process keeps what it read for STATE_MEMO_SECONDS, but a refit of its own, another
    protocol or another study (same id, new study) is seen at once."""
    monkeypatch.setattr(model_state, "STATE_MEMO_SECONDS", 0.5)
    study = active_study(owner)
    first = crafted_state(study, plan_pair=("sys-c", "sys-d"))
    cache.set(state_key(study.id), first, 600)
    assert cached_state(study).state["plans"]["*"] == {("sys-c", "sys-d"): 1.0}
    cache.set(state_key(study.id), crafted_state(study, plan_pair=("sys-a", "sys-b")), 600)  # another process's refit
    assert cached_state(study).state["plans"]["*"] == {("sys-c", "sys-d"): 1.0}  # within the memo
    deadline = time.monotonic() + 5
    while cached_state(study).state["plans"]["*"] != {("sys-a", "sys-b"): 1.0}:
        assert time.monotonic() < deadline, "the memo never expired"
        time.sleep(0.05)
    # another protocol: not served from the memo
    study.strategy_params = {**study.strategy_params, "epsilon": 0.5}
    assert cached_state(study).state == {}
    study.refresh_from_db()
    # a refit in this process: its state is served at once
    users = [add_annotator(study, f"ann{k}") for k in range(3)]
    judge_all(study, users, 12)
    assert cached_state(study).state["system"]["n"] == 100  # still the crafted state (no refit due yet)
    study_state_refit(study_id=study.id)
    assert cached_state(study).state["system"]["n"] == Annotation.objects.filter(study=study).count()


@pytest.mark.django_db
def test_a_refit_task_writes_the_state_the_next_request_uses(owner):
    study = active_study(owner)
    users = [add_annotator(study, f"ann{k}") for k in range(6)]
    assert cached_state(study).state == {}
    judged = judge_all(study, users, 60)
    refit_study.delay(study.id)  # eager in tests: runs here
    entry = cache.get(state_key(study.id))
    assert entry["n_judgments"] == judged == Annotation.objects.filter(study=study).count()
    block = entry["state"]["system"]
    assert set(block["players"]) == set(SYSTEMS)
    scores = dict(zip(block["players"], block["scores"], strict=True))
    assert scores["sys-a"] == max(scores.values())  # sys-a always won
    assert entry["state"]["plans"]["*"]
    got = cached_state(study)
    assert got.reachable and got.state["system"]["n"] == judged
    # An annotator the quality checks exclude no longer counts in the fit.
    membership = users[0].memberships.get(study=study)
    membership.excluded = True
    membership.save()
    theirs = Annotation.objects.filter(study=study, annotator=users[0]).count()
    assert len(model_state.study_judgments(study)) == judged - theirs
    # A different protocol (here: other params) makes the cached state stale: not used.
    study.strategy_params = {**study.strategy_params, "epsilon": 0.5}
    assert cached_state(study).state == {}


@pytest.mark.django_db(transaction=True)
def test_requests_queue_a_refit_every_n_leases_and_never_fit_themselves(monkeypatch):
    owner = make_user("owner", researcher=True)
    study = active_study(owner, items=8)
    monkeypatch.setattr(model_state, "REFIT_EVERY", 5)
    queued = []
    real_delay = refit_study.delay
    monkeypatch.setattr(refit_study, "delay", lambda study_id: queued.append(study_id) or real_delay(study_id))
    users = [add_annotator(study, f"ann{k}") for k in range(4)]
    judge_all(study, users, 1)  # no state at all (new study, or a flushed cache): refit now
    assert queued == [study.id]
    entry = cache.get(state_key(study.id))
    assert entry["mark"] == 1 and entry["n_judgments"] == 0
    judge_all(study, users, 4)  # 1..4 leases behind: nothing
    assert queued == [study.id]
    judge_all(study, users, 1)  # 5 behind: refit, fitted when the 6th unit was leased
    assert queued == [study.id, study.id]
    entry = cache.get(state_key(study.id))
    assert entry["mark"] == 6 and entry["n_judgments"] == 5
    assert cache.get(pending_key(study.id)) is None
    judge_all(study, users, 5)
    assert queued == [study.id] * 3
    assert cache.get(state_key(study.id))["n_judgments"] == 10
    forget(study)


@pytest.mark.django_db(transaction=True)
def test_a_process_counts_leases_in_batches_once_a_state_exists(monkeypatch):
    """In production each process adds its leases to the cache's counter a few at a time
    (LEASE_COUNT_BATCH): one round trip per batch. The first lease of a study without a
    state is counted (and refits) at once; a refit is due REFIT_EVERY leases later, give
    or take a batch."""
    owner = make_user("owner", researcher=True)
    study = active_study(owner, items=8)
    monkeypatch.setattr(model_state, "REFIT_EVERY", 5)
    monkeypatch.setattr(model_state, "LEASE_COUNT_BATCH", 4)
    queued = []
    real_delay = refit_study.delay
    monkeypatch.setattr(refit_study, "delay", lambda study_id: queued.append(study_id) or real_delay(study_id))
    users = [add_annotator(study, f"ann{k}") for k in range(4)]
    judge_all(study, users, 1)  # no state yet: counted at once, refit
    assert cache.get(leases_key(study.id)) == 1 and queued == [study.id]
    judge_all(study, users, 3)
    assert cache.get(leases_key(study.id)) == 1  # 3 leases held back in this process
    judge_all(study, users, 1)
    assert cache.get(leases_key(study.id)) == 5  # the 4th of the batch: added in one INCRBY
    assert queued == [study.id]  # 4 behind the state's mark (1): not yet due
    judge_all(study, users, 4)
    assert cache.get(leases_key(study.id)) == 9 and queued == [study.id, study.id]  # 8 behind: refit
    forget(study)


@pytest.mark.django_db(transaction=True)
def test_at_most_one_refit_is_queued_while_one_is_pending(monkeypatch):
    owner = make_user("owner", researcher=True)
    study = active_study(owner, items=8)
    monkeypatch.setattr(model_state, "REFIT_EVERY", 2)
    queued = []
    monkeypatch.setattr(refit_study, "delay", lambda study_id: queued.append(study_id))  # a worker that never comes
    users = [add_annotator(study, f"ann{k}") for k in range(4)]
    judge_all(study, users, 8)
    assert queued == [study.id]
    forget(study)


def redis_down(backend="django.core.cache.backends.redis.RedisCache"):
    return {
        "default": {
            "BACKEND": backend,
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }


REDIS_DOWN = redis_down()


@pytest.fixture
def fail_open_reset():
    from config.cache import FailOpenRedisCache

    FailOpenRedisCache.reset()
    yield
    FailOpenRedisCache.reset()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("backend", ["django.core.cache.backends.redis.RedisCache", "config.cache.FailOpenRedisCache"])
@pytest.mark.parametrize("strategy", ["active-bt", "crowd-bt", "length-balanced"])
def test_with_the_cache_down_units_are_still_served_by_exploration(strategy, backend, monkeypatch, fail_open_reset):
    owner = make_user("owner", researcher=True)
    study = active_study(owner, strategy=strategy)
    queued = []
    monkeypatch.setattr(refit_study, "delay", lambda study_id: queued.append(study_id))
    monkeypatch.setattr(model_state, "REFIT_EVERY", 1)
    users = [add_annotator(study, f"ann{k}") for k in range(5)]
    pool = Unit.objects.filter(study=study).count()
    with override_settings(CACHES=redis_down(backend)):
        started = time.monotonic()
        first = assignment_next_for_annotator(study=study, user=users[0])
        assert time.monotonic() - started < 2.0
        assert first is not None and first.propensity == pytest.approx(1 / pool)  # no state: uniform
        annotation_submit(assignment_id=first.id, user=users[0], response={"choice": "tie"}, idempotency_key="a")
        started = time.monotonic()
        for user in users[1:]:
            a = assignment_next_for_annotator(study=study, user=user)
            assert a is not None
        assert time.monotonic() - started < 2.0  # the dead cache is not retried on every request
    assert queued == []  # nothing queued through a dead broker
    assert sum(Unit.objects.filter(study=study).values_list("n_taken", flat=True)) == 5


@pytest.mark.django_db
def test_a_refit_without_a_cache_fails_loudly_in_the_worker_not_in_requests(owner):
    study = active_study(owner)
    with override_settings(CACHES=REDIS_DOWN), pytest.raises(ConnectionError):
        study_state_refit(study_id=study.id)


@pytest.mark.django_db
def test_strategies_without_state_never_touch_the_cache(owner, monkeypatch):
    study = active_study(owner, strategy="uniform")
    monkeypatch.setattr(model_state, "cached_state", lambda study: pytest.fail("uniform read the cache"))
    ann = add_annotator(study, "ann")
    assert assignment_next_for_annotator(study=study, user=ann) is not None


@pytest.mark.django_db
def test_periodic_refit_catches_up_studies_whose_state_misses_judgments(owner):
    study = active_study(owner)
    users = [add_annotator(study, f"ann{k}") for k in range(3)]
    judge_all(study, users, 10)
    assert model_state.stale_studies_refit() >= 1
    assert cache.get(state_key(study.id))["n_annotations"] == 10
    assert model_state.stale_studies_refit() == 0  # up to date: nothing to do


@pytest.mark.django_db
def test_refits_whose_worker_keeps_dying_are_given_up_with_the_reason_until_the_count_expires(owner, caplog):
    study = active_study(owner)
    users = [add_annotator(study, f"ann{k}") for k in range(3)]
    judge_all(study, users, 6)
    cache.delete_many([state_key(study.id), attempts_key(study.id)])
    # Attempts killed mid-fit leave the count up (their `finally` never ran); fewer than the
    # limit: this one fits, and a finished refit clears the count.
    cache.set(attempts_key(study.id), model_state.MAX_REFIT_ATTEMPTS - 1, 600)
    assert study_state_refit(study_id=study.id)["n_judgments"] == 6
    assert cache.get(attempts_key(study.id)) is None
    cache.delete(state_key(study.id))
    cache.set(attempts_key(study.id), model_state.MAX_REFIT_ATTEMPTS, 600)  # the limit: give up, acknowledged
    with caplog.at_level(logging.ERROR, logger="elicitation.model_state"):
        assert study_state_refit(study_id=study.id) is None
    assert f"given up: {model_state.MAX_REFIT_ATTEMPTS} attempts in a row were interrupted" in caplog.text
    assert cache.get(state_key(study.id)) is None
    assert assignment_next_for_annotator(study=study, user=users[0]) is not None  # units are still served
    cache.delete(attempts_key(study.id))  # the give-up window has passed
    assert model_state.stale_studies_refit() == 1
    assert cache.get(state_key(study.id))["n_judgments"] == 6
    forget(study)


@pytest.mark.django_db(transaction=True)
def test_simulate_command_drives_the_real_services_on_a_tiny_study(capsys):
    call_command(
        "simulate",
        "--strategies", "uniform,active-bt,crowd-bt",
        "--systems", "3", "--items", "6", "--annotators", "3",
        "--judgments", "40", "--checkpoint", "10", "--seeds", "1", "--keep",
    )
    out = capsys.readouterr().out
    assert "| uniform |" in out and "| active-bt |" in out and "| crowd-bt |" in out
    studies = {s.strategy: s for s in Study.objects.filter(slug__startswith="sim-")}
    assert set(studies) == {"uniform", "active-bt", "crowd-bt"}
    for study in studies.values():
        assert Annotation.objects.filter(study=study).count() == 40
        assert all(0 < p <= 1 for p in Annotation.objects.filter(study=study).values_list("propensity", flat=True))
    # The active study was refitted on the way (queued by requests, run in-process) and
    # its later choices followed the state: not every propensity is 1/|pool|.
    active = studies["active-bt"]
    entry = cache.get(state_key(active.id))
    assert entry is not None and entry["n_judgments"] > 0
    assert len(set(Annotation.objects.filter(study=active).values_list("propensity", flat=True))) > 1
    for study in studies.values():
        forget(study)
