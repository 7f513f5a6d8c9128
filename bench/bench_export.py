"""Export benchmark (`make bench-export`): a study of 1,000,000 pairwise judgments on
PostgreSQL, exported as trl-preference (JSONL and Parquet), raw and scores-long; reports each
export's time, throughput (rows/s) and the exporter's peak memory (max RSS of its process).

The study is built with COPY in a separate database (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/trenchcoat_bench), which is dropped at the end (--keep
keeps it, --reuse runs on a kept one, migrated first). Every export runs in its own process,
so its peak memory is its own. Goal: each export <= 60 s with peak memory <= 300 MB.
Writes bench/results/export.md and export.json (--out elsewhere).

    python bench/bench_export.py [--judgments 1000000] [--formats trl-jsonl,trl-parquet,raw,scores-long] [--keep] [--reuse]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/trenchcoat_bench"
SLUG = "bench-pairs"
GOAL_SECONDS, GOAL_MB = 60, 300

EXPORTS = {
    "trl-jsonl": ("trl-preference", {}),
    "trl-parquet": ("trl-preference", {"file_format": "parquet"}),
    "raw": ("raw", {}),
    "scores-long": ("scores-long", {"pairwise": "points"}),
}

WORDS = ["the", "a", "model", "answer", "question", "because", "therefore", "however", "data", "result", "value", "system", "user", "helpful", "clear", "example", "explain", "step", "first", "second", "then", "finally", "consider", "important", "note", "simple", "reason", "word", "short", "long", "language", "translate", "summary", "code", "function", "return", "error", "check", "test", "case", "input", "output", "list", "number"]


def _env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL",)}
    env.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="config.settings", SECRET_KEY="bench-only-not-a-secret",
               DEBUG="0", PYTHONPATH=str(ROOT), DB_CONN_MAX_AGE="0")
    return env


def _django():
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _admin(url: str, sql: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(sql.format(name=name))


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


class _Texts:
    """Varied texts without drawing every word of a million texts: a pool, each text picked
    and stamped with a number so that no two are the same."""

    def __init__(self, rng: random.Random, lo: int, hi: int, pool: int = 4000):
        self.rng, self.pool = rng, [_text(rng, rng.randint(lo, hi)) for _ in range(pool)]

    def __call__(self, n: int) -> str:
        return f"{self.rng.choice(self.pool)} ({n})"


def build(judgments: int, redundancy: int = 3, annotators: int = 300, seed: int = 1) -> None:
    """The study, in bulk: items of two candidates, one unit each, `redundancy` judgments a unit."""
    _django()
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from annotation.models import (
        Annotation,
        Assignment,
        Candidate,
        Item,
        StudyMembership,
        Unit,
    )
    from annotation.services import study_create

    rng = random.Random(seed)
    User = get_user_model()
    owner = User.objects.create_user("bench-owner")
    users = User.objects.bulk_create([User(username=f"bench-a{i}") for i in range(annotators)])
    study = study_create(owner=owner, spec={"slug": SLUG, "name": "Benchmark: 1M pairwise judgments", "task_type": "pairwise",
                                            "task_config": {"allow_tie": True}, "redundancy": redundancy, "status": "live",
                                            "instructions": "Which answer is better?"})
    StudyMembership.objects.bulk_create([StudyMembership(study=study, user=u, role="annotator") for u in users])
    n_items = -(-judgments // redundancy)
    now = timezone.now().isoformat()
    prompts, answers = _Texts(rng, 15, 40), _Texts(rng, 30, 120)
    t0 = time.perf_counter()
    with transaction.atomic(), connection.cursor() as wrapper:
        cur = wrapper.cursor

        def copy(model, columns, rows):
            table = model._meta.db_table
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row)

        copy(Item, ["id", "study_id", "external_id", "prompt", "reference", "doc_id", "seg_id", "meta", "created_at"],
             ((i, study.pk, f"item-{i}", json.dumps(prompts(i)), "", "", "", "{}", now) for i in range(1, n_items + 1)))
        copy(Candidate, ["id", "item_id", "system", "text", "judges", "position"],
             ((2 * i - 1 + k, i, f"sys-{(i + 3 * k) % 8}", answers(2 * i + k),
               json.dumps({"rm/bench": round(rng.gauss(0, 1), 4)}), k) for i in range(1, n_items + 1) for k in (0, 1)))
        copy(Unit, ["id", "study_id", "item_id", "candidate_ids", "kind", "gold", "n_done", "n_taken", "rand"],
             ((i, study.pk, i, json.dumps([2 * i - 1, 2 * i]), "regular", None, redundancy, redundancy, rng.random()) for i in range(1, n_items + 1)))
        plan = []
        for n in range(judgments):
            unit, k = n // redundancy + 1, n % redundancy
            annotator = users[(unit * 7 + k * 101) % annotators].pk
            order = [2 * unit - 1, 2 * unit] if rng.random() < 0.5 else [2 * unit, 2 * unit - 1]
            draw = rng.random()
            choice = "tie" if draw < 0.15 else (2 * unit - 1 if draw < 0.6 else 2 * unit)
            plan.append((n + 1, unit, annotator, json.dumps(order), json.dumps({"choice": choice, "rationale": ""})))
        copy(Assignment, ["id", "study_id", "unit_id", "annotator_id", "status", "strategy", "propensity", "display_order", "created_at",
                          "expires_at", "submitted_at"],
             ((aid, study.pk, unit, annotator, "submitted", "uniform", 0.25, order, now, now, now) for aid, unit, annotator, order, _ in plan))
        copy(Annotation, ["id", "study_id", "unit_id", "item_id", "assignment_id", "annotator_id", "response", "display_order", "strategy",
                          "propensity", "idempotency_key", "revision", "supersedes_id", "shown_at", "submitted_at", "duration_ms", "qc_passed"],
             ((aid, study.pk, unit, unit, aid, annotator, response, order, "uniform", 0.25, f"k{aid}", 1, None, now, now,
               rng.randint(2000, 60000), None) for aid, unit, annotator, order, response in plan))
        for model in (Item, Candidate, Unit, Assignment, Annotation):
            table = model._meta.db_table
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    print(json.dumps({"items": n_items, "judgments": judgments, "seconds": round(time.perf_counter() - t0, 1)}))


def run_one(fmt: str, out: str) -> None:
    """One export in this process; prints its figures as JSON."""
    _django()
    from annotation.models import Study
    from exports.services import _zip_folder, export_to_folder

    name, options = EXPORTS[fmt]
    study = Study.objects.get(slug=SLUG)
    t0 = time.perf_counter()
    counts = export_to_folder(study=study, format_name=name, options=options, out_dir=Path(out))
    seconds = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in Path(out).rglob("*") if p.is_file())
    # what a background job does next: the zip a researcher downloads
    t1 = time.perf_counter()
    zipped = Path(f"{out}.zip")
    _zip_folder(Path(out), zipped)
    zip_seconds = time.perf_counter() - t1
    print(json.dumps({"seconds": seconds, "zip_seconds": zip_seconds, "zip_bytes": zipped.stat().st_size, "counts": counts, "bytes": size}))
    zipped.unlink()


def measure(fmt: str, url: str, workdir: Path) -> dict:
    out = workdir / fmt
    proc = subprocess.Popen([sys.executable, __file__, "--run", fmt, str(out)], env=_env(url), stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    stdout_lines = list(proc.stdout)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"export {fmt} failed (exit {proc.returncode})")
    result = json.loads(stdout_lines[-1])
    result["peak_mb"] = usage.ru_maxrss / 1024  # kilobytes on Linux
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime  # the exporter's own CPU, start-up included
    shutil.rmtree(out, ignore_errors=True)
    return result


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def markdown(report: dict) -> str:
    lines = [
        "# Export benchmark",
        "",
        (f"{report['when']} · commit {report['commit']} · {report['machine']} · `make bench-export` (bench/bench_export.py) · "
        f"a pairwise study of {report['judgments']:,} judgments ({report['items']:,} items of two candidates, redundancy 3, "
        f"300 annotators) on PostgreSQL · load average before: {report['load_before']}, after: {report['load_after']}"),
        "",
        ("Each export runs in a process of its own: `seconds` is `export_to_folder` (stream from the database, write the "
         "files and the dataset card), the goal's measure; `zip s` is what a background job adds before the download is "
         "offered (the zip of that folder: text deflated at level 1, Parquet stored). Peak memory is the process's max RSS "
         "(Python, Django and pyarrow included); CPU is its user + system time over both (the export's reader thread "
         "included), so seconds minus CPU is waiting: on PostgreSQL, or for a core on a busy machine."),
        "",
        "| export | format and options | rows in | seconds | rows/s | CPU s | peak MB | output MB | zip s | zip MB | goal |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in report["exports"]:
        lines.append(f"| {r['export']} | `{r['format']}` `{json.dumps(r['options'])}` | {r['rows']:,} | {r['seconds']:.1f} | "
                     f"{r['rows_per_s']:,.0f} | {r['cpu_seconds']:.1f} | {r['peak_mb']:.0f} | {r['output_mb']:.0f} | "
                     f"{r['zip_seconds']:.1f} | {r['zip_mb']:.0f} | "
                     f"{'met' if r['met'] else '**missed**'} |")
    lines += ["", f"Goal: each export <= {GOAL_SECONDS} s with peak memory <= {GOAL_MB} MB, on this 2-core machine.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--judgments", type=int, default=1_000_000)
    parser.add_argument("--formats", default=",".join(EXPORTS))
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--reuse", action="store_true", help="run on the kept benchmark database")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"), help="folder of export.md and export.json ('' writes none)")
    parser.add_argument("--run", nargs=2, metavar=("FORMAT", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--build", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        return run_one(*args.run)
    if args.build:
        return build(args.build)

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    if not args.reuse:
        _admin(url, 'DROP DATABASE IF EXISTS "{name}"')
        _admin(url, 'CREATE DATABASE "{name}"')
    workdir = Path(tempfile.mkdtemp(prefix="bench-export-"))
    failed = False
    loadavg = lambda: " ".join(f"{x:.1f}" for x in os.getloadavg())
    report: dict = {"when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "commit": _commit(),
                    "machine": f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}",
                    "judgments": args.judgments, "items": -(-args.judgments // 3), "goal": {"seconds": GOAL_SECONDS, "peak_mb": GOAL_MB},
                    "exports": []}
    try:
        subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"], env=_env(url), check=True)
        if not args.reuse:
            print(f"building {args.judgments} judgments in {url.rsplit('/', 1)[1]} ...", flush=True)
            subprocess.run([sys.executable, __file__, "--build", str(args.judgments)], env=_env(url), check=True)
        report["load_before"] = loadavg()
        print(f"load average before: {report['load_before']} ({os.cpu_count()} CPUs)")
        print(f"{'export':<14} {'rows':>9} {'seconds':>8} {'rows/s':>9} {'CPU s':>7} {'peak MB':>8} {'output MB':>9} {'zip s':>6}  goal")
        for fmt in args.formats.split(","):
            r = measure(fmt, url, workdir)
            rows = r["counts"].get("judgments") or args.judgments
            ok = r["seconds"] <= GOAL_SECONDS and r["peak_mb"] <= GOAL_MB
            failed |= not ok
            print(f"{fmt:<14} {rows:>9} {r['seconds']:>8.1f} {rows / r['seconds']:>9.0f} {r['cpu_seconds']:>7.1f} {r['peak_mb']:>8.0f} "
                  f"{r['bytes'] / 2**20:>9.0f} {r['zip_seconds']:>6.1f}  {'ok' if ok else 'MISSED'}", flush=True)
            name, options = EXPORTS[fmt]
            report["exports"].append({"export": fmt, "format": name, "options": options, "rows": rows, "seconds": round(r["seconds"], 2),
                                      "rows_per_s": round(rows / r["seconds"]), "cpu_seconds": round(r["cpu_seconds"], 1),
                                      "peak_mb": round(r["peak_mb"], 1), "output_mb": round(r["bytes"] / 2**20, 1), "met": ok,
                                      "zip_seconds": round(r["zip_seconds"], 2), "zip_mb": round(r["zip_bytes"] / 2**20, 1),
                                      "counts": r["counts"]})
        report["load_after"] = loadavg()
        print(f"load average after: {report['load_after']}")
        if args.out:
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            (out / "export.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
            (out / "export.md").write_text(markdown(report), encoding="utf-8")
            print(f"wrote {out / 'export.md'} and export.json")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if not args.keep:
            _admin(url, 'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    if failed:
        print(f"(goal: each export <= {GOAL_SECONDS} s and <= {GOAL_MB} MB peak)")


if __name__ == "__main__":
    main()
