"""Build the load benchmark's studies in bulk (COPY), not through the services: a study of
1,000,000 units takes about a minute this way.

Each study gets its items, candidates and units (fresh: nothing judged yet), and a crowd of
annotator accounts, all members of the study. Every account has the same password (one
PBKDF2 hash, computed once) and a ready-made session: the first `slots` accounts of a study
sign in through the login page during the run, the others stand for annotators who signed in
earlier and come back with their session cookie (a sign-in costs a PBKDF2 hash, ~0.3 s of a
core, which would otherwise be most of what the benchmark measures).

Run by bench_load.py in a subprocess with DATABASE_URL set to the benchmark database; prints
one JSON line per study with what the driver needs (slug, accounts, sessions).
"""

from __future__ import annotations

import json
import random
import secrets
import time
from datetime import timedelta

PASSWORD = "bench-load-password-1"
WORDS = ["the", "a", "model", "answer", "question", "because", "therefore", "however", "data", "result", "value", "system", "user", "helpful", "clear", "example", "explain", "step", "first", "second", "then", "finally", "consider", "important", "note", "simple", "reason", "word", "short", "long", "language", "translate", "summary", "code", "function", "return", "error", "check", "test", "case", "input", "output", "list", "number"]
TEXT_POOL = 4096


def _texts(rng: random.Random, lo: int, hi: int) -> list[str]:
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi))).capitalize() + "." for _ in range(TEXT_POOL)]


def _copy(cur, table: str, columns: list[str], rows) -> None:
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)


def _next_id(cur, table: str) -> int:
    cur.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}")
    return cur.fetchone()[0]


def build_study(*, task: str, units: int, accounts: int, redundancy: int, strategy: str, seed: int) -> dict:
    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.db import connection, transaction
    from django.utils import timezone

    from annotation.models import Candidate, Item, StudyMembership, Unit
    from annotation.services import study_create

    rng = random.Random(seed)
    User = get_user_model()
    slug = f"load-{task}-{units}"
    owner = User.objects.create_user(f"{slug}-owner")
    spec = {
        "slug": slug,
        "name": f"Load benchmark: {task}, {units} units",
        "task_type": task,
        "redundancy": redundancy,
        "strategy": {"name": strategy},
        "status": "live",
        "instructions": "Judge quickly.",
    }
    if task == "pairwise":
        spec["task_config"] = {"allow_tie": True}
    study = study_create(owner=owner, spec=spec)
    now = timezone.now()
    now_iso = now.isoformat()
    password_hash = make_password(PASSWORD)
    prompts, answers = _texts(rng, 12, 30), _texts(rng, 25, 80)
    per_item = 2 if task == "pairwise" else 1
    t0 = time.perf_counter()
    with transaction.atomic(), connection.cursor() as wrapper:
        cur = wrapper.cursor
        item0, cand0, unit0, user0 = (_next_id(cur, m._meta.db_table) for m in (Item, Candidate, Unit, User))
        _copy(cur, Item._meta.db_table, ["id", "study_id", "external_id", "prompt", "reference", "doc_id", "seg_id", "meta", "created_at"],
              ((item0 + i, study.pk, f"item-{i}", json.dumps(prompts[(i * 7919) % TEXT_POOL]), "", f"doc-{i // 20}", str(i % 20), "{}", now_iso)
               for i in range(units)))
        _copy(cur, Candidate._meta.db_table, ["id", "item_id", "system", "text", "judges", "position"],
              ((cand0 + per_item * i + k, item0 + i, f"sys-{(i + 3 * k) % 8}",
                answers[(i * 104729 + k * 31) % TEXT_POOL], json.dumps({"rm/bench": round(rng.gauss(0, 1), 3)}), k)
               for i in range(units) for k in range(per_item)))
        _copy(cur, Unit._meta.db_table, ["id", "study_id", "item_id", "candidate_ids", "kind", "gold", "n_done", "n_taken", "rand"],
              ((unit0 + i, study.pk, item0 + i, json.dumps([cand0 + per_item * i + k for k in range(per_item)]), "regular", None, 0, 0, rng.random())
               for i in range(units)))
        names = [f"{slug}-a{i}" for i in range(accounts)]
        _copy(cur, User._meta.db_table, ["id", "password", "is_superuser", "username", "first_name", "last_name", "email", "is_staff",
                                         "is_active", "date_joined"],
              ((user0 + i, password_hash, False, name, "", "", "", False, True, now_iso) for i, name in enumerate(names)))
        _copy(cur, StudyMembership._meta.db_table, ["study_id", "user_id", "role", "joined_at", "qc_passed", "qc_failed", "excluded",
                                                    "excluded_reason", "platform", "worker_id", "platform_session", "n_judged", "n_regular"],
              ((study.pk, user0 + i, "annotator", now_iso, 0, 0, False, "", "", "", "", 0, 0) for i in range(accounts)))
        cur.execute("UPDATE annotation_study SET n_units = %s WHERE id = %s", [units, study.pk])
        # Sessions of annotators who signed in earlier (the same hash for all: one password).
        probe = User(password=password_hash)
        auth_hash = probe.get_session_auth_hash()
        store = SessionStore()
        expire = (now + timedelta(seconds=settings.SESSION_COOKIE_AGE)).isoformat()
        sessions = []
        for i in range(accounts):
            key = secrets.token_hex(16)
            data = store.encode({SESSION_KEY: str(user0 + i), BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
                                 HASH_SESSION_KEY: auth_hash})
            sessions.append((key, data, expire))
        _copy(cur, Session._meta.db_table, ["session_key", "session_data", "expire_date"], sessions)
        for model in (Item, Candidate, Unit, User):
            table = model._meta.db_table
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    with connection.cursor() as cur:
        for model in (Item, Candidate, Unit, User, StudyMembership, Session):
            cur.execute(f"ANALYZE {model._meta.db_table}")
    return {
        "slug": slug,
        "task": task,
        "units": units,
        "redundancy": redundancy,
        "strategy": strategy,
        "password": PASSWORD,
        "accounts": [{"username": name, "session": s[0]} for name, s in zip(names, sessions, strict=True)],
        "build_seconds": round(time.perf_counter() - t0, 1),
    }
