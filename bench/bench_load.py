"""Load benchmark (`make bench`): the platform as in production (gunicorn, PostgreSQL, Redis,
a Celery worker) under N concurrent simulated annotators over HTTP, for pairwise and MQM
studies of 10,000 and 1,000,000 units.

Each annotator signs in, takes the next unit and submits (the submit response carries the next
unit: one round trip per judgment, as the annotator page works); see bench/load/driver.py.
Reported per configuration: judgments/s, p50/p95/p99 of next-unit and submit, errors, units
handed to more annotators at once than their redundancy, units handed twice to one annotator,
judgments beyond redundancy, and submissions lost (acknowledged but not stored), as Markdown
and JSON in bench/results/.

Goals (this machine: 2 cores, shared): >= 150 judgments/s at 32 annotators; next-unit p99
<= 50 ms; the same latency at 1,000,000 units as at 10,000; zero duplicates, lost, errors.

The studies are built with COPY in a separate database (BENCH_LOAD_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/trenchcoat_bench_load), dropped at the end unless --keep;
--reuse runs on a kept one (each configuration then starts from its study's current state).
The cache and broker use their own Redis database (BENCH_LOAD_REDIS_URL, default db 5) and
gunicorn listens on a free loopback port.

    python bench/bench_load.py [--annotators 32] [--duration 40] [--units 10000,1000000]
                               [--tasks pairwise,mqm] [--workers 4 --threads 4] [--keep] [--reuse]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/trenchcoat_bench_load"
DEFAULT_REDIS = "redis://127.0.0.1:6379/5"
RESULTS = ROOT / "bench" / "results"
GOALS = {"judgments_per_s": 150.0, "next_p99_ms": 50.0, "annotators": 32}
# "The same latency at 1M units as at 10k": p50 within this factor (+2 ms of timer noise).
SAME_LATENCY_FACTOR = 1.5


def _env(db_url: str, redis_url: str, media: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=db_url,
        REDIS_URL=redis_url,
        CACHE_PREFIX="bench-load",
        DJANGO_SETTINGS_MODULE="config.settings",
        SECRET_KEY="bench-load-only-" + "k3y-n0t-4-pr0duct10n",
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        PYTHONPATH=str(ROOT),
        MEDIA_ROOT=str(media),
        LOGIN_RATE="100000/min",  # every simulated annotator signs in from 127.0.0.1
        JOIN_RATE="100000/min",
        LOG_LEVEL="WARNING",
    )
    return env


def _admin(db_url: str, sql: str) -> None:
    import psycopg

    base, name = db_url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(sql.format(name=name))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, timeout: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with {proc.returncode} before serving")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"gunicorn did not answer {url} within {timeout:.0f} s")


def _stop(proc: subprocess.Popen | None, sig=signal.SIGTERM, wait: float = 20) -> None:
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, sig)
    try:
        proc.wait(wait)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


# --- building -------------------------------------------------------------------------------


def build_main(args) -> None:
    """--build: in a subprocess with the benchmark's environment."""
    import django

    django.setup()
    from bench.load.build import build_study

    for spec in json.loads(args.build):
        print(json.dumps(build_study(**spec)), flush=True)


# --- checking -------------------------------------------------------------------------------


def db_checks(db_url: str, study: dict, acknowledged: list[tuple[int, int, str, str]]) -> dict:
    """What the database holds after the run, against what the server acknowledged."""
    import psycopg

    with psycopg.connect(db_url) as conn:
        study_id = conn.execute("SELECT id FROM annotation_study WHERE slug = %s", [study["slug"]]).fetchone()[0]
        r = study["redundancy"]
        over_handed = conn.execute(
            "SELECT count(*) FROM (SELECT unit_id FROM annotation_assignment WHERE study_id = %s AND status IN ('active', 'submitted')"
            " GROUP BY unit_id HAVING count(*) > %s) t", [study_id, r]).fetchone()[0]
        twice = conn.execute(
            "SELECT count(*) FROM (SELECT unit_id, annotator_id FROM annotation_assignment WHERE study_id = %s"
            " GROUP BY unit_id, annotator_id HAVING count(*) > 1) t", [study_id]).fetchone()[0]
        beyond = conn.execute(
            "SELECT coalesce(sum(n - %s), 0) FROM (SELECT count(*) AS n FROM annotation_annotation WHERE study_id = %s"
            " GROUP BY unit_id HAVING count(*) > %s) t", [r, study_id, r]).fetchone()[0]
        judged_twice = conn.execute(
            "SELECT count(*) FROM (SELECT unit_id, annotator_id FROM annotation_annotation WHERE study_id = %s"
            " GROUP BY unit_id, annotator_id HAVING count(*) > 1) t", [study_id]).fetchone()[0]
        drift = conn.execute(
            "SELECT count(*) FROM annotation_unit u WHERE u.study_id = %s AND (u.n_done, u.n_taken) IS DISTINCT FROM ("
            " (SELECT count(*) FROM annotation_annotation a WHERE a.unit_id = u.id),"
            " (SELECT count(*) FROM annotation_assignment s WHERE s.unit_id = u.id AND s.status IN ('active', 'submitted')))"
            " AND u.id IN (SELECT unit_id FROM annotation_assignment WHERE study_id = %s)", [study_id, study_id]).fetchone()[0]
        stored = {}
        ids = [a[0] for a in acknowledged]
        for chunk in range(0, len(ids), 5000):
            rows = conn.execute(
                "SELECT a.id, a.unit_id, u.username, a.idempotency_key FROM annotation_annotation a JOIN auth_user u ON u.id = a.annotator_id"
                " WHERE a.id = ANY(%s)", [ids[chunk:chunk + 5000]]).fetchall()
            stored.update({row[0]: tuple(row) for row in rows})
        lost = [a for a in acknowledged if stored.get(a[0]) != tuple(a)]
        total = conn.execute("SELECT count(*) FROM annotation_annotation WHERE study_id = %s", [study_id]).fetchone()[0]
    return {
        "units_over_handed": over_handed,
        "units_handed_twice_to_one_annotator": twice,
        "judgments_beyond_redundancy": int(beyond),
        "units_judged_twice_by_one_annotator": judged_twice,
        "unit_counters_off": drift,
        "submissions_lost": len(lost),
        "lost_examples": lost[:5],
        "judgments_stored": total,
    }


# --- running one configuration --------------------------------------------------------------


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    index = min(len(values) - 1, max(0, int(round(q / 100 * len(values) + 0.5)) - 1))
    return round(values[index] * 1000, 1)


def summarize(results, study: dict, annotators: int) -> dict:
    window = [s for s in results.samples if results.t_start <= s.start + s.seconds <= results.t_end]
    seconds = results.t_end - results.t_start
    out = {"window_seconds": round(seconds, 1)}
    for kind in ("next", "submit", "shown", "sign-in"):
        chosen = window if kind != "sign-in" else results.samples
        values = [s.seconds for s in chosen if s.kind == kind and s.ok]
        out[kind] = {"n": len(values), "p50_ms": _pct(values, 50), "p95_ms": _pct(values, 95), "p99_ms": _pct(values, 99),
                     "max_ms": _pct(values, 100)}
    out["judgments_in_window"] = out["submit"]["n"]
    out["judgments_per_s"] = round(out["submit"]["n"] / seconds, 1) if seconds > 0 else 0.0
    out["judgments_acknowledged"] = len(results.acknowledged)
    out["errors"] = len(results.errors)
    out["error_examples"] = sorted(set(results.errors))[:8]
    out["client_units_over_handed"] = sum(1 for holders in results.handed.values() if len(holders) > study["redundancy"])
    out["client_units_handed_twice_to_one"] = results.handed_twice_to_one
    out["sessions_without_units"] = results.exhausted
    out["annotators"] = annotators
    return out


TICK = os.sysconf("SC_CLK_TCK")
# Statements of the benchmark database slower than this are logged by PostgreSQL, and the
# report lists the heaviest: a query that scans what grows with the study shows up there.
SLOW_MS = 250
PG_LOGS = sorted(Path("/var/log/postgresql").glob("postgresql-*-main.log"))
SLOW_LINE = re.compile(r"@(?P<db>\S+) LOG:  duration: (?P<ms>[0-9.]+) ms  (?:statement|execute [^:]*): (?P<sql>.*)")


def _log_size() -> int:
    return PG_LOGS[0].stat().st_size if PG_LOGS else 0


def slow_statements(offset: int, dbname: str, top: int = 5) -> list[dict]:
    """The heaviest slow statements PostgreSQL logged for the benchmark database since offset."""
    if not PG_LOGS:
        return []
    groups: dict[str, dict] = {}
    with PG_LOGS[0].open(errors="replace") as fh:
        fh.seek(offset)
        for line in fh:
            m = SLOW_LINE.search(line)
            if not m or m["db"] != dbname:
                continue
            shape = re.sub(r"'[^']*'|\b\d+(\.\d+)?\b", "?", m["sql"])[:400]
            g = groups.setdefault(shape, {"statement": m["sql"][:400], "count": 0, "total_ms": 0.0, "max_ms": 0.0})
            g["count"] += 1
            g["total_ms"] += float(m["ms"])
            g["max_ms"] = max(g["max_ms"], float(m["ms"]))
    ranked = sorted(groups.values(), key=lambda g: -g["total_ms"])[:top]
    return [{**g, "total_ms": round(g["total_ms"]), "max_ms": round(g["max_ms"])} for g in ranked]


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class CpuMeter:
    """CPU seconds spent by gunicorn's workers, PostgreSQL's backends of the benchmark
    database, the Celery worker and this driver, between the window's start and end: the
    cost of a judgment, whatever else the (shared) machine was doing meanwhile."""

    def __init__(self, db_url: str, gunicorn: subprocess.Popen, celery: subprocess.Popen):
        self.db_url, self.gunicorn, self.celery = db_url, gunicorn, celery
        self.marks: dict[str, dict[int, float]] = {}
        self.driver: dict[str, float] = {}

    def _pg_backends(self) -> list[int]:
        import psycopg

        name = self.db_url.rsplit("/", 1)[1]
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            return [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [name])]

    def __call__(self, edge: str) -> None:
        groups = {"gunicorn": _children(self.gunicorn.pid), "celery": [self.celery.pid, *_children(self.celery.pid)],
                  "postgres": self._pg_backends()}
        self.marks[edge] = {(group, pid): _cpu_seconds(pid) for group, pids in groups.items() for pid in pids}
        self.driver[edge] = time.process_time()

    def spent(self) -> dict[str, float]:
        if set(self.marks) != {"start", "end"}:
            return {}
        out: dict[str, float] = {"gunicorn": 0.0, "celery": 0.0, "postgres": 0.0}
        for (group, pid), end in self.marks["end"].items():
            out[group] += end - self.marks["start"].get((group, pid), 0.0)  # a backend born in the window counts whole
        out["driver"] = self.driver["end"] - self.driver["start"]
        return {k: round(v, 2) for k, v in out.items()}


def run_config(study: dict, args, env: dict, db_url: str, logdir: Path) -> dict:
    from bench.load.driver import run

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    gunicorn = celery = None
    log = (logdir / f"{study['slug']}-gunicorn.log").open("w")
    wlog = (logdir / f"{study['slug']}-celery.log").open("w")
    try:
        gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers),
             "--threads", str(args.threads), "--timeout", "60"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        celery = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--concurrency", "1", "--loglevel", "WARNING",
             "--without-heartbeat", "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=env, stdout=wlog, stderr=subprocess.STDOUT, start_new_session=True)
        _wait_http(base + "/login/", 60, gunicorn)
        print(f"  {study['slug']}: {args.annotators} annotators for {args.duration:.0f} s (+{args.warmup:.0f} s warm-up) ...", flush=True)
        log_offset = _log_size()
        meter = CpuMeter(db_url, gunicorn, celery)
        results = run(base, study, slots=args.annotators, duration=args.duration, warmup=args.warmup, session_units=args.session_units,
                      on_window=meter)
        summary = summarize(results, study, args.annotators)
        cpu = meter.spent()
        acknowledged = list(results.acknowledged)
        if args.probe_annotators:
            # The same server below saturation: in the closed loop above every request waits
            # behind the others (latency = annotators / throughput), which says nothing about
            # what one request costs or whether it grows with the study.
            print(f"  {study['slug']}: latency probe, {args.probe_annotators} annotators for {args.probe_duration:.0f} s ...", flush=True)
            probe = run(base, study, slots=args.probe_annotators, duration=args.probe_duration, warmup=3.0,
                        session_units=args.session_units)
            p = summarize(probe, study, args.probe_annotators)
            summary["probe"] = {k: p[k] for k in ("annotators", "judgments_per_s", "next", "submit", "shown", "errors")}
            summary["errors"] += p["errors"]
            summary["error_examples"] += p["error_examples"]
            acknowledged += probe.acknowledged
        requests = summary["next"]["n"] + summary["submit"]["n"]
        summary["cpu_seconds"] = cpu
        if cpu and summary["judgments_in_window"]:
            server = cpu["gunicorn"] + cpu["postgres"]
            summary["server_cpu_ms_per_judgment"] = round(1000 * server / summary["judgments_in_window"], 1)
            summary["server_cpu_ms_per_request"] = round(1000 * server / requests, 1)
            # What the server would sustain with both cores to itself (the driver elsewhere).
            summary["judgments_per_s_if_2_idle_cores"] = round(2 * summary["judgments_in_window"] / server, 0) if server else None
        summary.update(db_checks(db_url, study, acknowledged))
        summary["slow_statements"] = slow_statements(log_offset, db_url.rsplit("/", 1)[1])
        if gunicorn.poll() is not None:
            summary["errors"] += 1
            summary["error_examples"].append(f"gunicorn exited with {gunicorn.returncode} during the run")
    finally:
        _stop(gunicorn)
        _stop(celery)
        log.close()
        wlog.close()
    summary.update(slug=study["slug"], task=study["task"], units=study["units"], redundancy=study["redundancy"], strategy=study["strategy"])
    return summary


# --- report ---------------------------------------------------------------------------------


def verdicts(configs: list[dict]) -> dict:
    out = {}
    for c in configs:
        key = c["slug"]
        bad = c["errors"] + c["units_over_handed"] + c["units_handed_twice_to_one_annotator"] + c["judgments_beyond_redundancy"] + \
            c["submissions_lost"] + c["client_units_over_handed"] + c["client_units_handed_twice_to_one"]
        out[key] = {
            "throughput": c["annotators"] >= GOALS["annotators"] and c["judgments_per_s"] >= GOALS["judgments_per_s"],
            "next_p99": c["next"]["p99_ms"] is not None and c["next"]["p99_ms"] <= GOALS["next_p99_ms"],
            "wait_seen_p99": c["shown"]["p99_ms"] is not None and c["shown"]["p99_ms"] <= GOALS["next_p99_ms"],
            **({"next_p99_below_saturation": c["probe"]["next"]["p99_ms"] is not None
                and c["probe"]["next"]["p99_ms"] <= GOALS["next_p99_ms"]} if "probe" in c else {}),
            "integrity": bad == 0,
        }
    for task in sorted({c["task"] for c in configs}):
        sizes = sorted((c for c in configs if c["task"] == task), key=lambda c: c["units"])
        if len(sizes) >= 2:
            small, big = sizes[0], sizes[-1]
            a, b = small, big
            if "probe" in small and "probe" in big:  # below saturation: what a request costs
                a, b = small["probe"], big["probe"]
            same = all(
                a[k]["p50_ms"] is not None and b[k]["p50_ms"] is not None
                and b[k]["p50_ms"] <= a[k]["p50_ms"] * SAME_LATENCY_FACTOR + 2
                for k in ("next", "submit"))
            out[f"{task}: same latency at {big['units']:,} as at {small['units']:,} units"] = {"flat": same}
    return out


def markdown(report: dict) -> str:
    lines = [
        "# Load benchmark", "",
        f"{report['when']} · commit {report['commit']} · {report['machine']} · gunicorn {report['gunicorn']} · "
        f"{report['annotators']} concurrent annotators · {report['duration']:.0f} s measured per configuration "
        f"(after {report['warmup']:.0f} s warm-up) · sessions of {report['session_units']} judgments · load average before: {report['load_before']}",
        "",
        "| study | units | judgments/s | next-unit p50 / p95 / p99 ms | submit p50 / p95 / p99 ms | wait seen p50 / p99 ms | "
        "sign-in p50 ms | errors | over-handed | handed twice | beyond redundancy | lost | server CPU ms/judgment | "
        "judgments/s on 2 idle cores (est.) |",
        "|---|---:|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in report["configs"]:
        n, s, w = c["next"], c["submit"], c["shown"]
        lines.append(
            f"| {c['task']} | {c['units']:,} | {c['judgments_per_s']} | {n['p50_ms']} / {n['p95_ms']} / {n['p99_ms']} (n={n['n']}) | "
            f"{s['p50_ms']} / {s['p95_ms']} / {s['p99_ms']} (n={s['n']}) | {w['p50_ms']} / {w['p99_ms']} (n={w['n']}) | "
            f"{c['sign-in']['p50_ms']} | {c['errors']} | "
            f"{c['units_over_handed'] + c['client_units_over_handed']} | "
            f"{c['units_handed_twice_to_one_annotator'] + c['client_units_handed_twice_to_one']} | "
            f"{c['judgments_beyond_redundancy']} | {c['submissions_lost']} | {c.get('server_cpu_ms_per_judgment')} | "
            f"{c.get('judgments_per_s_if_2_idle_cores')} |")
    probes = [c for c in report["configs"] if "probe" in c]
    if probes:
        lines += ["", f"Without queueing, on the same server right after (latency probe, {probes[0]['probe']['annotators']} annotators, "
                  "same closed loop: on 2 cores no request waits behind another): what one request costs, and whether that grows with the study.", "",
                  "| study | units | judgments/s | next-unit p50 / p95 / p99 ms | submit p50 / p95 / p99 ms |", "|---|---:|---:|---|---|"]
        for c in probes:
            n, s = c["probe"]["next"], c["probe"]["submit"]
            lines.append(f"| {c['task']} | {c['units']:,} | {c['probe']['judgments_per_s']} | {n['p50_ms']} / {n['p95_ms']} / {n['p99_ms']} "
                         f"(n={n['n']}) | {s['p50_ms']} / {s['p95_ms']} / {s['p99_ms']} (n={s['n']}) |")
    lines += ["", "Goals: >= 150 judgments/s with 32 annotators; next-unit p99 <= 50 ms; same latency at 1M as at 10k units "
              f"(p50 within x{SAME_LATENCY_FACTOR} + 2 ms, compared below saturation when the probe ran); zero errors, duplicates "
              "and lost submissions. *next_p99* is checked in the saturated run, *next_p99_below_saturation* in the probe, "
              "*wait_seen_p99* on what the annotator page shows.", ""]
    for key, checks in report["verdicts"].items():
        lines.append(f"- {key}: " + ", ".join(f"{name} {'ok' if ok else 'MISSED'}" for name, ok in checks.items()))
    slow = [(c, g) for c in report["configs"] for g in c.get("slow_statements", [])]
    if slow:
        lines += ["", f"Statements PostgreSQL logged as slower than {SLOW_MS} ms (the heaviest per study, by total time; "
                  "on a busy machine any statement can land here now and then, a scan of the study does every time):", "",
                  "| study | count | total ms | max ms | statement |", "|---|---:|---:|---:|---|"]
        for c, g in slow:
            lines.append(f"| {c['task']} {c['units']:,} | {g['count']} | {g['total_ms']} | {g['max_ms']} | `{g['statement'][:220]}` |")
    errors = [e for c in report["configs"] for e in c["error_examples"]]
    if errors:
        lines += ["", "Errors (examples):", ""] + [f"- `{e[:200]}`" for e in errors[:10]]
    lines += ["", "Columns: *over-handed* = units held or judged by more annotators at once than the redundancy allows (database "
              "and client view); *handed twice* = a unit given twice to one annotator; *beyond redundancy* = judgments past a "
              "unit's redundancy; *lost* = submissions the server acknowledged that the database does not hold; *server CPU* = CPU "
              "seconds of gunicorn's workers and PostgreSQL's backends in the window per judgment stored (independent of what "
              "else the shared machine runs); *on 2 idle cores* = 2 s / that cost, an estimate of the server's capacity; "
              "*wait seen* = between answering a unit and the next one on screen, as the annotator page works (it shows the "
              "unit it fetched in advance at once; it waits for the server only when it has none). *next-unit* and *submit* "
              "are request latencies in a closed loop without think time: at capacity they are mostly queueing "
              "(N annotators / throughput).", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotators", type=int, default=32)
    parser.add_argument("--duration", type=float, default=40.0, help="measured seconds per configuration")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--units", default="10000,1000000")
    parser.add_argument("--tasks", default="pairwise,mqm")
    parser.add_argument("--redundancy", type=int, default=3)
    parser.add_argument("--strategy", default="uniform")
    parser.add_argument("--session-units", type=int, default=10, help="judgments per annotator visit")
    parser.add_argument("--accounts", type=int, default=3000, help="annotator accounts per study")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (the Dockerfile's 4)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (the Dockerfile's 4)")
    parser.add_argument("--probe-annotators", type=int, default=2, help="annotators of the latency probe below saturation (0: none)")
    parser.add_argument("--probe-duration", type=float, default=15.0)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--reuse", action="store_true", help="run on the kept benchmark database")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--build", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        return build_main(args)

    db_url = os.environ.get("BENCH_LOAD_DATABASE_URL", DEFAULT_DB)
    redis_url = os.environ.get("BENCH_LOAD_REDIS_URL", DEFAULT_REDIS)
    media = Path(tempfile.mkdtemp(prefix="bench-load-"))
    env = _env(db_url, redis_url, media)
    specs = [{"task": t, "units": int(u), "accounts": args.accounts, "redundancy": args.redundancy, "strategy": args.strategy,
              "seed": i + 1} for i, (u, t) in enumerate((u, t) for u in args.units.split(",") for t in args.tasks.split(","))]
    cache_file = Path(args.out) / ".bench-load-studies.json"
    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    configs = []
    try:
        if args.reuse:
            studies = json.loads(cache_file.read_text())
        else:
            _admin(db_url, 'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            _admin(db_url, 'CREATE DATABASE "{name}"')
            print(f"building {len(specs)} studies in {db_url.rsplit('/', 1)[1]} ...", flush=True)
            subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"], env=env, check=True, cwd=ROOT)
            built = subprocess.run([sys.executable, __file__, "--build", json.dumps(specs)], env=env, check=True, cwd=ROOT,
                                   stdout=subprocess.PIPE, text=True)
            studies = [json.loads(line) for line in built.stdout.splitlines() if line.startswith("{")]
            for s in studies:
                print(f"  built {s['slug']} in {s['build_seconds']} s", flush=True)
            if args.keep:
                Path(args.out).mkdir(parents=True, exist_ok=True)
                cache_file.write_text(json.dumps(studies))
        _admin(db_url, f'ALTER DATABASE "{{name}}" SET log_min_duration_statement = {SLOW_MS}')
        import redis

        redis.Redis.from_url(redis_url).flushdb()
        logdir = Path(tempfile.mkdtemp(prefix="bench-load-logs-"))
        for study in studies:
            configs.append(run_config(study, args, env, db_url, logdir))
            c = configs[-1]
            print(f"  -> {c['judgments_per_s']} judgments/s; next p99 {c['next']['p99_ms']} ms; submit p99 {c['submit']['p99_ms']} ms; "
                  f"errors {c['errors']}; lost {c['submissions_lost']}", flush=True)
            for example in c["error_examples"][:3]:
                print(f"     error: {example[:300]}", flush=True)
    finally:
        shutil.rmtree(media, ignore_errors=True)
        if not args.keep and not args.reuse:
            _admin(db_url, 'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], check=False, cwd=ROOT, capture_output=True, text=True).stdout.strip()
    import gunicorn as gunicorn_module

    report = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit,
        "machine": f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}",
        "gunicorn": f"{gunicorn_module.__version__} ({args.workers} workers x {args.threads} threads)",
        "annotators": args.annotators,
        "duration": args.duration,
        "warmup": args.warmup,
        "session_units": args.session_units,
        "load_before": load_before,
        "goals": GOALS,
        "configs": configs,
    }
    report["verdicts"] = verdicts(configs)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "load.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "load.md").write_text(markdown(report))
    print()
    print(markdown(report))
    print(f"written: {out / 'load.md'}, {out / 'load.json'}")


if __name__ == "__main__":
    main()
