"""Next-unit latency per strategy (`make bench-strategy-latency`): a pairwise study of 100
systems and 10,000 items on PostgreSQL, model state warm in Redis, many annotators asking
for their next unit through the real service (`assignment_next_for_annotator`, in process).

The studies are built with COPY in a database of their own (BENCH_STRAT_DATABASE_URL,
default postgres://postgres@127.0.0.1:5432/trenchcoat_bench_strat), created and dropped by
this script (--keep keeps it, --reuse runs on a kept one): one study per strategy, each of
10,000 items whose candidates come from 4 of the 100 systems (6 pair units an item, 60,000
units) and a history of 20,000 judgments by 200 annotators. Each active strategy's model
state is refitted once (the refit task's service, timed, written to the cache), and the
process's memory of candidates' systems and lengths is filled as a long-running worker's
would be. Then requests are timed in rounds, one per strategy in a rotating order (the
load of a shared machine falls on all alike), annotators in turn; each leased unit is
handed back at once, outside the timing, so pools stay the same; refits are not queued
while timing (they run in a Celery worker, never in the request). Cache: Redis (REDIS_URL,
default redis://127.0.0.1:6379/0) under a key prefix of its own, as in production.

    python bench/bench_strategy_latency.py [--requests 400] [--strategies uniform,active-bt,crowd-bt] [--keep] [--reuse]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pickle
import platform
import random
import subprocess
import sys
import time
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/trenchcoat_bench_strat"
SLUG = "bench-strategies"
STRATEGIES = ("uniform", "active-bt", "crowd-bt")
GOAL_RATIO = 1.25  # p50 and p95 of an active strategy at most this times uniform's


def _setup(url: str) -> None:
    os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="config.settings", SECRET_KEY="bench-only-not-a-secret",
                      DEBUG="0", CACHE_PREFIX="tc-bench-strat")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _admin(url: str, sql: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(sql.format(name=name))


def build(slug: str, strategy: str, users, systems: int, items: int, per_item: int, history: int, seed: int = 1) -> dict:
    """One study, in bulk, and a judged history of `history` units (one judgment each)."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from annotation.models import Annotation, Assignment, Candidate, Item, Study, StudyMembership, Unit
    from annotation.services import study_create

    rng = random.Random(seed)
    annotators = len(users)
    owner = get_user_model().objects.get(username="bench-owner")
    study = study_create(owner=owner, spec={"slug": slug, "name": f"Benchmark: next-unit latency, {strategy}", "task_type": "pairwise",
                                            "task_config": {"allow_tie": True}, "redundancy": 3, "status": "live",
                                            "instructions": "Which answer is better?", "strategy": {"name": strategy, "params": {}}})
    first = {m: (m._default_manager.order_by("-id").values_list("id", flat=True).first() or 0) for m in (Item, Candidate, Unit, Assignment, Annotation)}
    o_item, o_cand, o_unit, o_asg = first[Item], first[Candidate], first[Unit], first[Assignment]
    strength = [rng.gauss(0, 1) for _ in range(systems)]
    now = timezone.now().isoformat()
    t0 = time.perf_counter()
    cands, units = [], []
    for it in range(1, items + 1):
        chosen = rng.sample(range(systems), per_item)
        ids = [o_cand + per_item * (it - 1) + k + 1 for k in range(per_item)]
        cands += [(cid, o_item + it, f"sys-{s:03d}", k) for k, (cid, s) in enumerate(zip(ids, chosen, strict=True))]
        units += [(o_item + it, a, b) for a, b in combinations(ids, 2)]
    system_of = {cid: int(name[4:]) for cid, _, name, _ in cands}
    judged = rng.sample(range(len(units)), history)
    with transaction.atomic(), connection.cursor() as wrapper:
        cur = wrapper.cursor

        def copy(model, columns, rows):
            with cur.copy(f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row)

        copy(Item, ["id", "study_id", "external_id", "prompt", "reference", "doc_id", "seg_id", "meta", "created_at"],
             ((o_item + it, study.pk, f"item-{it}", json.dumps(f"Prompt {it}"), "", "", "", "{}", now) for it in range(1, items + 1)))
        copy(Candidate, ["id", "item_id", "system", "text", "judges", "position"],
             ((cid, it, name, f"Answer {cid} " + "word " * rng.randint(20, 120), "{}", k) for cid, it, name, k in cands))
        taken = set(judged)
        copy(Unit, ["id", "study_id", "item_id", "candidate_ids", "kind", "gold", "n_done", "n_taken", "rand"],
             ((o_unit + u + 1, study.pk, it, json.dumps([a, b]), "regular", None, int(u in taken), int(u in taken), rng.random())
              for u, (it, a, b) in enumerate(units)))
        plan = []
        for n, u in enumerate(judged, 1):
            it, a, b = units[u]
            d = strength[system_of[a]] - strength[system_of[b]]
            p = 1 / (1 + pow(2.718281828, -d))
            draw = rng.random()
            choice = "tie" if draw < 0.1 else (a if rng.random() < p else b)
            order = [a, b] if rng.random() < 0.5 else [b, a]
            plan.append((o_asg + n, o_unit + u + 1, it, users[n % annotators].pk, json.dumps(order),
                         json.dumps({"choice": choice, "rationale": ""})))
        copy(Assignment, ["id", "study_id", "unit_id", "annotator_id", "status", "strategy", "propensity", "display_order", "created_at",
                          "expires_at", "submitted_at"],
             ((n, study.pk, u, ann, "submitted", "uniform", 0.005, order, now, now, now) for n, u, _, ann, order, _ in plan))
        copy(Annotation, ["id", "study_id", "unit_id", "item_id", "assignment_id", "annotator_id", "response", "display_order", "strategy",
                          "propensity", "idempotency_key", "revision", "supersedes_id", "shown_at", "submitted_at", "duration_ms", "qc_passed"],
             ((n, study.pk, u, it, n, ann, resp, order, "uniform", 0.005, f"k{n}", 1, None, now, now, 5000, None)
              for n, u, it, ann, order, resp in plan))
        for model in (Item, Candidate, Unit, Assignment, Annotation):
            table = model._meta.db_table
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    Study.objects.filter(pk=study.pk).update(n_units=len(units))
    StudyMembership.objects.bulk_create([StudyMembership(study=study, user=u, role="annotator") for u in users])
    return {"systems": systems, "items": items, "units": len(units), "history": history, "annotators": annotators,
            "build_seconds": round(time.perf_counter() - t0, 1)}


def _percentiles(ms: list[float]) -> dict:
    import numpy as np

    a = np.asarray(ms)
    return {"n": int(a.size), "mean": float(a.mean()), "p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)),
            "p99": float(np.percentile(a, 99)), "max": float(a.max())}


def prepare(strategy: str) -> dict:
    """The strategy's study with its model state refitted once (timed) and cached; the
    process's memory of candidates filled as a long-running worker's would be."""
    from annotation.models import Candidate, Study
    from elicitation import model_state, services
    from elicitation.strategies import get_strategy

    study = Study.objects.get(slug=f"{SLUG}-{strategy}")
    out = {"strategy": strategy, "study": study, "refit_seconds": None, "state_bytes": 0, "state_systems": 0}
    if getattr(get_strategy(strategy), "needs_state", False):
        t0 = time.perf_counter()
        entry = model_state.study_state_refit(study_id=study.pk)
        out["refit_seconds"] = time.perf_counter() - t0
        out["state_bytes"] = len(pickle.dumps(entry["state"], protocol=pickle.HIGHEST_PROTOCOL))
        cached = model_state.cached_state(study)
        out["state_systems"] = len((cached.state.get("system") or {}).get("players", ()))
        if not cached.reachable or out["state_systems"] == 0:
            raise SystemExit(f"{strategy}: no warm model state in the cache (reachable={cached.reachable})")
    if getattr(get_strategy(strategy), "needs_candidates", False):
        services._candidate_info(study, list(Candidate.objects.filter(item__study=study).values_list("id", flat=True)), False)
    return out


def measure(strategies: list[str], requests: int, warmup: int) -> list[dict]:
    """Next-unit requests in rounds, one per strategy in a rotating order, so that the
    load of a shared machine falls on every strategy alike."""
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.db.models import F

    from annotation.models import Assignment, Unit
    from elicitation import model_state
    from elicitation.services import assignment_next_for_annotator

    prepared = [prepare(name) for name in strategies]
    users = list(get_user_model().objects.filter(username__startswith="bench-a").order_by("id"))
    # refits run in a worker, not in the request: keep them from being queued while timing
    model_state.REFIT_EVERY, model_state.REFIT_AFTER_SECONDS = 10**9, float("inf")
    times: dict[str, list[float]] = {p["strategy"]: [] for p in prepared}
    for n in range(warmup + requests):
        user = users[n % len(users)]
        for p in prepared[n % len(prepared):] + prepared[: n % len(prepared)]:
            t0 = time.perf_counter()
            assignment = assignment_next_for_annotator(study=p["study"], user=user)
            elapsed = (time.perf_counter() - t0) * 1000
            if assignment is None:
                raise SystemExit(f"{p['strategy']}: no unit for {user.username}")
            # hand it back (as an expired lease would be), outside the timing
            Assignment.objects.filter(pk=assignment.pk).update(status=Assignment.Status.EXPIRED)
            Unit.objects.filter(pk=assignment.unit_id).update(n_taken=F("n_taken") - 1)
            if n >= warmup:
                times[p["strategy"]].append(elapsed)
    out = []
    for p in prepared:
        study = p.pop("study")
        p["leases"] = Assignment.objects.filter(study=study, status=Assignment.Status.EXPIRED).count()
        cache.delete(model_state.state_key(study.pk))
        out.append({**p, "latency_ms": _percentiles(times[p["strategy"]])})
    return out


def markdown(report: dict) -> str:
    s = report["study"]
    base = next((r for r in report["strategies"] if r["strategy"] == "uniform"), None)
    lines = [
        "# Next-unit latency by strategy",
        "",
        (f"{report['when']} · commit {report['commit']} · {report['machine']} · `make bench-strategy-latency` "
         f"(bench/bench_strategy_latency.py) · load average before: {report['load_before']}, after: {report['load_after']}"),
        "",
        (f"One pairwise study per strategy, each of {s['systems']} systems and {s['items']:,} items (candidates from 4 "
         f"systems each: {s['units']:,} pair units, redundancy 3) with {s['history']:,} judgments already made by "
         f"{s['annotators']} annotators, on PostgreSQL with the model state in Redis. Each strategy's state is refitted "
         f"once (timed: the refit task's work, in a worker), then {report['requests']} next-unit requests per strategy "
         f"(after {report['warmup']} not timed) go through `elicitation.services.assignment_next_for_annotator` in "
         "process, in rounds of one request per strategy (rotating order, so that the load of the shared machine falls "
         "on all alike); each leased unit is handed back outside the timing. The time is the whole service call: "
         "membership lock, held-lease check, the model state (from Redis, kept by the process for a second), the "
         "pool query (uniform: 16 units; the active strategies: 64, to choose from), the strategy's choice, the "
         "conditional lease update and the assignment insert, and after commit the lease count (added to Redis four "
         "at a time). Candidates' systems and lengths come from the process's memory (filled before timing, as in a "
         "worker that has served the study for a while)."),
        "",
        "| strategy | p50 ms | p95 ms | p99 ms | mean ms | max ms | ×uniform p50 | ×uniform p95 | refit s | state KB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["strategies"]:
        lat = r["latency_ms"]
        ratio50 = lat["p50"] / base["latency_ms"]["p50"] if base else float("nan")
        ratio95 = lat["p95"] / base["latency_ms"]["p95"] if base else float("nan")
        refit = "–" if r["refit_seconds"] is None else f"{r['refit_seconds']:.1f}"
        state = "–" if not r["state_bytes"] else f"{r['state_bytes'] / 1024:.0f}"
        lines.append(f"| {r['strategy']} | {lat['p50']:.1f} | {lat['p95']:.1f} | {lat['p99']:.1f} | {lat['mean']:.1f} | "
                     f"{lat['max']:.1f} | {ratio50:.2f} | {ratio95:.2f} | {refit} | {state} |")
    lines += ["", "## Goal", ""]
    for g in report["goals"]:
        lines.append(f"- {g['goal']}: {g['measured']} — {'met' if g['met'] else '**missed**'}")
    lines += ["", ("The active strategies read their cached state only (per-pair scores as a matrix and the refit's "
                   "plan are precomputed there). What their request does beyond uniform's: it reads a window of 64 "
                   "units instead of 16 (they choose among them), looks up their candidates' systems, scores the "
                   "window, and every fourth lease adds to the lease count in Redis; about once a second per process "
                   "it fetches the state (~160 KB at 100 systems) anew."), ""]
    return "\n".join(lines)


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--systems", type=int, default=100)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--history", type=int, default=20_000, help="judgments already made (state to fit)")
    parser.add_argument("--annotators", type=int, default=200)
    parser.add_argument("--requests", type=int, default=400, help="timed requests per strategy")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--reuse", action="store_true", help="run on the kept benchmark database")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"), help="folder of strategy_latency.md/.json ('' writes none)")
    args = parser.parse_args()
    url = os.environ.get("BENCH_STRAT_DATABASE_URL", DEFAULT_URL)
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    if not args.reuse:
        _admin(url, 'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _admin(url, 'CREATE DATABASE "{name}"')
    _setup(url)
    try:
        from django.core.management import call_command

        if not args.reuse:
            from django.contrib.auth import get_user_model
            from django.db import connection

            call_command("migrate", "--noinput", verbosity=0)
            User = get_user_model()
            User.objects.create_user("bench-owner")
            users = User.objects.bulk_create([User(username=f"bench-a{i}") for i in range(args.annotators)])
            for n, name in enumerate(strategies):
                study = build(f"{SLUG}-{name}", name, users, args.systems, args.items, 4, args.history, seed=1 + n)
                print(json.dumps({"strategy": name, **study}), file=sys.stderr)
            with connection.cursor() as cur:
                cur.execute("ANALYZE")
        else:
            from annotation.models import Study

            s = Study.objects.get(slug=f"{SLUG}-{strategies[0]}")
            study = {"systems": args.systems, "items": s.items.count(), "units": s.units.count(),
                     "history": s.annotations.count(), "annotators": args.annotators, "build_seconds": None}
        load_before = os.getloadavg()[0]
        results = measure(strategies, args.requests, args.warmup)
        for r in results:
            print(json.dumps(r), file=sys.stderr)
        load_after = os.getloadavg()[0]
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _admin(url, 'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    base = next((r for r in results if r["strategy"] == "uniform"), None)
    goals = []
    for r in results:
        if base and r["strategy"] != "uniform":
            p50 = r["latency_ms"]["p50"] / base["latency_ms"]["p50"]
            p95 = r["latency_ms"]["p95"] / base["latency_ms"]["p95"]
            goals.append({"goal": f"{r['strategy']}: p50 and p95 at most {GOAL_RATIO}x uniform's",
                          "measured": f"{p50:.2f}x / {p95:.2f}x", "met": p50 <= GOAL_RATIO and p95 <= GOAL_RATIO})
    report = {"when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"), "commit": _commit(),
              "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "study": study, "requests": args.requests,
              "warmup": args.warmup, "load_before": round(load_before, 2), "load_after": round(load_after, 2),
              "strategies": results, "goals": goals}
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "strategy_latency.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        (out / "strategy_latency.md").write_text(markdown(report), encoding="utf-8")
        print(f"wrote {out / 'strategy_latency.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
