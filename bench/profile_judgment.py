"""What one judgment costs the server, in-process: SQL statements and milliseconds per
submit-and-next round trip (the annotator page's one request per judgment), and where the time
goes (cProfile). A companion to `make bench` for finding the cost, not for quoting throughput.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/trenchcoat_profile \
        python bench/profile_judgment.py [--units 10000] [--task pairwise] [--judgments 300] [--profile]

The database named in DATABASE_URL is dropped and created afresh. Single-threaded, one
annotator after another: the figures are the server's own cost, without contention.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=10000)
    parser.add_argument("--task", default="pairwise", choices=["pairwise", "mqm"])
    parser.add_argument("--strategy", default="uniform")
    parser.add_argument("--judgments", type=int, default=300)
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile of the measured loop")
    parser.add_argument("--sql", action="store_true", help="print the statements of one judgment")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        raise SystemExit("set DATABASE_URL to a PostgreSQL database this script may drop and create")
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", "profile-only-" + "k3y-n0t-4-pr0duct10n-at-all")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.load.build import build_study
    from bench.load.driver import make_response

    call_command("migrate", verbosity=0)
    study = build_study(task=args.task, units=args.units, accounts=64, redundancy=3, strategy=args.strategy, seed=1)
    rng = random.Random(3)
    clients = []
    for account in study["accounts"][:16]:
        client = Client()
        client.cookies["sessionid"] = account["session"]
        clients.append(client)
    units = {}
    for i, client in enumerate(clients):  # warm-up: every annotator takes a unit
        body = client.post(f"/api/v1/studies/{study['slug']}/next/?ahead=1").json()
        units[i] = body["unit"]

    def one(i: int) -> int:
        client, unit = clients[i], units[i]
        payload = {"response": make_response(unit, rng), "idempotency_key": uuid.uuid4().hex, "duration_ms": 4000}
        response = client.post(f"/api/v1/assignments/{unit['assignment_id']}/submit/?ahead=1", payload, content_type="application/json")
        assert response.status_code == 201, response.content
        units[i] = response.json()["next"]["unit"]
        return response.status_code

    for k in range(20):
        one(k % len(clients))
    with CaptureQueriesContext(connection) as captured:
        one(0)
    if args.sql:
        for q in captured.captured_queries:
            print(f"{q['time']:>6}  {q['sql'][:220]}")
    kinds = Counter(q["sql"].split()[0] for q in captured.captured_queries)
    profiler = cProfile.Profile(time.process_time) if args.profile else None  # CPU time, not wall
    cpu0, t0 = time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    for k in range(args.judgments):
        one(k % len(clients))
    if profiler:
        profiler.disable()
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    print(f"{args.task}, {args.units:,} units, {args.strategy}: {sum(kinds.values())} SQL statements per judgment "
          f"({dict(kinds)}); {1000 * wall / args.judgments:.1f} ms wall, {1000 * cpu / args.judgments:.1f} ms Django CPU per judgment "
          f"(submit + next unit, one request)")
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(45)
        print(out.getvalue())


if __name__ == "__main__":
    main()
