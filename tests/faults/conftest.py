"""Stopping and restarting the real servers, and always bringing them back.

Fault tests run only against the local servers of .ci/run (PostgreSQL 127.0.0.1:5432, Redis
127.0.0.1:6379), never against anything else, and restore them in a `finally` block however
the test ends: a test that cannot bring a server back fails loudly, and the session stops
(nothing after it could run)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

LOCAL = {"127.0.0.1", "localhost"}
RESTORE_TIMEOUT = 60.0


def _local(url: str, scheme: str, port: int) -> bool:
    parts = urlsplit(url)
    return parts.scheme.startswith(scheme) and parts.hostname in LOCAL and (parts.port or port) == port


def postgres_is_local() -> bool:
    return _local(os.environ.get("DATABASE_URL", ""), "postgres", 5432) and bool(shutil.which("pg_ctlcluster")) and Path("/etc/postgresql").is_dir()


def redis_is_local() -> bool:
    return _local(os.environ.get("REDIS_URL", ""), "redis", 6379) and bool(shutil.which("redis-server")) and bool(shutil.which("redis-cli"))


def may_stop_servers() -> bool:
    """Stopping PostgreSQL or Redis cuts off whoever else uses them: CI (which runs alone on
    its machine) does it; on a shared development machine, opt in with TRENCHCOAT_FAULTS=1."""
    return bool(os.environ.get("CI")) or os.environ.get("TRENCHCOAT_FAULTS") == "1"


OPT_IN = "set TRENCHCOAT_FAULTS=1 to run it here (CI runs it): it cuts off everyone using that server meanwhile"
needs_local_postgres = pytest.mark.skipif(
    not (postgres_is_local() and may_stop_servers()),
    reason=f"restarts PostgreSQL: only against the local server (DATABASE_URL=postgres://...@127.0.0.1:5432/...); {OPT_IN}")
needs_local_redis = pytest.mark.skipif(
    not (redis_is_local() and may_stop_servers()),
    reason=f"stops Redis: only against the local server (REDIS_URL=redis://127.0.0.1:6379/...); {OPT_IN}")
needs_postgres_and_redis = pytest.mark.skipif(
    not (os.environ.get("DATABASE_URL", "").startswith("postgres") and os.environ.get("REDIS_URL", "").startswith("redis")),
    reason="a real Celery worker needs the real PostgreSQL (DATABASE_URL) and Redis broker (REDIS_URL)")


def wait_until(predicate, timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


# --- Redis ------------------------------------------------------------------------------------


def redis_up() -> bool:
    return subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", "6379", "ping"], check=False, capture_output=True, text=True, timeout=5).stdout.strip() == "PONG"


def redis_start() -> None:
    if not redis_up():
        subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379", "--save", "", "--appendonly", "no"],
                       check=True, capture_output=True, timeout=30)
    wait_until(redis_up, RESTORE_TIMEOUT, "Redis to answer again")


@contextlib.contextmanager
def redis_stopped():
    """Redis is down inside the block, and up again after it (whatever happened)."""
    try:
        subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", "6379", "shutdown", "nosave"], check=False, capture_output=True, timeout=10)
        wait_until(lambda: not redis_up(), 20, "Redis to stop")
        yield
    finally:
        try:
            redis_start()
        except Exception as exc:  # noqa: BLE001 - the session cannot go on without Redis
            pytest.exit(f"could not restart Redis after a fault test: {exc}", returncode=3)


# --- PostgreSQL -----------------------------------------------------------------------------


def _cluster() -> tuple[str, str]:
    return min(os.listdir("/etc/postgresql")), "main"


def postgres_up() -> bool:
    return subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"], check=False, timeout=10).returncode == 0


def _pg_ctl(action: str) -> None:
    version, name = _cluster()
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, name, action], check=False, capture_output=True, timeout=120)


def close_django_connections() -> None:
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        with contextlib.suppress(Exception):
            conn.close()


@contextlib.contextmanager
def postgres_stopped():
    """PostgreSQL is down inside the block, and up again after it (whatever happened); the
    test process's Django connections are closed so that they reconnect afresh."""
    try:
        _pg_ctl("stop")
        wait_until(lambda: not postgres_up(), 60, "PostgreSQL to stop")
        close_django_connections()
        yield
    finally:
        try:
            if not postgres_up():
                _pg_ctl("start")
            wait_until(postgres_up, RESTORE_TIMEOUT, "PostgreSQL to accept connections again")
            close_django_connections()
        except Exception as exc:  # noqa: BLE001 - the session cannot go on without its database
            pytest.exit(f"could not restart PostgreSQL after a fault test: {exc}", returncode=3)
