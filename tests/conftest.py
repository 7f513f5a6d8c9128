import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop


@pytest.fixture
def shared_data():
    """../shared/data, or a skip with the reason when this clone has none beside it."""
    path = SHARED / "data"
    if not path.is_dir():
        pytest.skip(f"{path} is absent (a fresh clone has no ../shared); this test reads real data from it")
    return path


def _django_loaded(request) -> bool:
    # Pure unit tests may run with `-p no:django`: then there are no settings to touch.
    return request.config.pluginmanager.hasplugin("django")


@pytest.fixture(autouse=True)
def _export_root(request, tmp_path):
    if _django_loaded(request):
        request.getfixturevalue("settings").EXPORT_ROOT = tmp_path / "exports"


@pytest.fixture(autouse=True)
def _celery_in_process(request):
    """Background work runs in-process in tests, unless a test asks for `celery_worker_live`."""
    if not _django_loaded(request):
        yield
        return
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture(autouse=True)
def _no_state_memo(request, monkeypatch):
    """Tests write model states into the cache as another process's refit would and expect
    the next request to read them, and count leases one by one: each process's short memo
    of the state and its batching of lease counts are off here
    (tests/integration/test_elicitation.py tests both with their production settings)."""
    if not _django_loaded(request):
        yield
        return
    from elicitation import model_state

    monkeypatch.setattr(model_state, "STATE_MEMO_SECONDS", 0.0)
    monkeypatch.setattr(model_state, "LEASE_COUNT_BATCH", 1)
    model_state.forget_states()
    yield
    model_state.forget_states()


@pytest.fixture
def seeded(monkeypatch):
    """The service draws display orders and quality-control units from an unseeded generator
    and the uniform strategy its pool window (and the import its units' random keys) from
    `random`: seed both, so a study driven through the real services is the same every run.
    Use it before the study is made."""
    import random

    import numpy as np

    random.seed(12345)
    real = np.random.default_rng
    seeds = iter(range(10**6))
    monkeypatch.setattr(np.random, "default_rng", lambda seed=None: real(next(seeds) if seed is None else seed))


@pytest.fixture
def celery_worker_live(transactional_db, settings):
    """A real Celery worker thread consuming from the real Redis broker."""
    if not settings.REDIS_URL:
        pytest.skip("needs Redis as the Celery broker (set REDIS_URL)")
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    app.conf.task_always_eager = False
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield app
