"""Streaming reads for exports: judgments as AnnotationRow, ordered by item, then unit, then
id, through a server-side cursor on PostgreSQL, so memory does not grow with the study.

Built for a million judgments:
- plain SQL, no model instances and no per-value ORM converters; PostgreSQL writes the
  timestamps as ISO text itself;
- the annotation query carries no item text: an item's prompt and candidates are shared by
  all its judgments, so they are fetched once per chunk of annotations (two queries a chunk);
- within a unit, identical JSON values (display orders, responses) are decoded once, and so
  are the records a response stands for;
- on PostgreSQL (outside a transaction) a reader thread with its own connection fetches the
  next chunk while this one is turned into rows: the database's work and the network overlap
  with Python's, and the export reads one consistent snapshot (REPEATABLE READ, READ ONLY,
  no WITH HOLD copy of the result).
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

from django.db import DEFAULT_DB_ALIAS, connection, connections

from annotation.models import Annotation, Candidate, Item, Study, StudyMembership, Unit
from annotation.task_types import get_task_type
from exports.formats import AnnotationRow, CandidateRow

CHUNK = 5000
PREFETCH = 1  # chunks read ahead by the reader thread (memory: a few chunks)

_scan = json.JSONDecoder().scan_once  # the C scanner, without json.loads' Python-level wrapping

# PostgreSQL writes the ISO 8601 text itself, as datetime.isoformat() would (microseconds only
# when there are some): cheaper there than a datetime object per row here.
PG_ISO = (
    "CASE WHEN date_part('microseconds', {col})::int %% 1000000 = 0 "
    "THEN to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"') "
    "ELSE to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"') END"
)


def _sql(vendor: str) -> tuple[str, str, str]:
    a, u = Annotation._meta.db_table, Unit._meta.db_table
    postgres = vendor == "postgresql"
    submitted = PG_ISO.format(col="a.submitted_at") if postgres else "a.submitted_at"
    annotations = (
        f"SELECT a.id, a.unit_id, a.item_id, a.annotator_id, a.response, a.display_order, a.strategy, a.propensity, "
        f"{submitted}, a.duration_ms, a.revision, u.candidate_ids, u.kind "
        f"FROM {a} a JOIN {u} u ON u.id = a.unit_id WHERE a.study_id = %s ORDER BY a.item_id, a.unit_id, a.id"
    )
    among = "= ANY(%s)" if postgres else "IN ({})"  # one array parameter rather than thousands
    items = f"SELECT id, external_id, prompt, reference, doc_id, seg_id, meta FROM {Item._meta.db_table} WHERE id {among}"
    candidates = f"SELECT id, item_id, system, text, judges FROM {Candidate._meta.db_table} WHERE item_id {among}"
    return annotations, items, candidates


def _iso(value) -> str:
    if isinstance(value, str):
        if "T" in value:  # written by PostgreSQL already
            return value
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:  # SQLite keeps UTC without a zone
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def _json(value):
    """A JSON column's value, decoded (the raw cursors hand JSON over as text)."""
    if not isinstance(value, str):
        return value
    if value == "{}":
        return {}
    try:
        obj, end = _scan(value, 0)
    except StopIteration:
        return json.loads(value)  # leading whitespace, or not JSON: let json say so
    return obj if end == len(value) else json.loads(value)


def _lookups(db, item_ids: list[int], items_sql: str, candidates_sql: str):
    """Items and their candidates, by item pk."""
    if "%s" in items_sql:
        params = [item_ids]
    else:
        items_sql, candidates_sql = (sql.format(", ".join(["%s"] * len(item_ids))) for sql in (items_sql, candidates_sql))
        params = item_ids
    items: dict[int, tuple] = {}
    candidates: dict[int, dict[int, CandidateRow]] = {}
    with db.cursor() as cursor:
        cursor.execute(items_sql, params)
        for pk, external_id, prompt, reference, doc_id, seg_id, meta in cursor.fetchall():
            items[pk] = (external_id, _json(prompt), reference, doc_id, seg_id, _json(meta))
            candidates[pk] = {}
        cursor.execute(candidates_sql, params)
        for cid, item_pk, system, text, judges in cursor.fetchall():
            candidates[item_pk][cid] = CandidateRow(cid, system, text, _json(judges))
    return items, candidates


def _chunks(db, study_id: int, chunk_size: int) -> Iterator[tuple[list, dict, dict]]:
    """(annotation rows, their items, their candidates), chunk by chunk, on connection `db`."""
    annotations_sql, items_sql, candidates_sql = _sql(db.vendor)
    items: dict[int, tuple] = {}
    candidates: dict[int, dict[int, CandidateRow]] = {}
    with db.chunked_cursor() as cursor:  # server-side (named) on PostgreSQL
        cursor.execute(annotations_sql, [study_id])
        while chunk := cursor.fetchmany(chunk_size):
            wanted = {row[2] for row in chunk}
            # keep only the item that continues from the last chunk: memory stays one chunk's worth
            items = {pk: items[pk] for pk in wanted & items.keys()}
            candidates = {pk: candidates[pk] for pk in items}
            missing = sorted(wanted - items.keys())
            if missing:
                new_items, new_candidates = _lookups(db, missing, items_sql, candidates_sql)
                items.update(new_items)
                candidates.update(new_candidates)
            yield chunk, items, candidates


_DONE = object()


def _read_ahead(study_id: int, chunk_size: int) -> Iterator[tuple[list, dict, dict]]:
    """_chunks on a connection of its own, in a thread, PREFETCH chunks ahead."""
    handoff: queue.Queue = queue.Queue(maxsize=PREFETCH)
    stop = threading.Event()

    def put(value) -> bool:
        while not stop.is_set():
            try:
                handoff.put(value, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        reader = connections.create_connection(DEFAULT_DB_ALIAS)
        try:
            reader.set_autocommit(False)
            with reader.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            for part in _chunks(reader, study_id, chunk_size):
                if not put(part):
                    return
            put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            put(exc)
        finally:
            for end in (reader.rollback, reader.close):  # a lost connection must not hide the first error
                try:
                    end()
                except Exception:  # noqa: BLE001, S110
                    pass

    thread = threading.Thread(target=read, name=f"export-reader-{study_id}", daemon=True)
    thread.start()
    try:
        while (part := handoff.get()) is not _DONE:
            if isinstance(part, BaseException):
                raise part
            yield part
    finally:
        stop.set()
        thread.join()


def annotation_rows(study: Study, *, chunk_size: int = CHUNK) -> Iterator[AnnotationRow]:
    task_type = get_task_type(study.task_type)
    config = study.task_config
    records_of = task_type.records
    excluded = set(StudyMembership.objects.filter(study=study, excluded=True).values_list("user_id", flat=True))
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        chunks = _read_ahead(study.pk, chunk_size)
    else:  # SQLite, or inside a transaction (whose uncommitted rows only this connection sees)
        chunks = _chunks(connection, study.pk, chunk_size)
    # Raters of imported judgments keep their original names (e.g. "rater1" of a WMT file);
    # everyone else is pseudonymous ("a<id>").
    annotators: dict[int, str] = {
        user_id: name for user_id, name in StudyMembership.objects.filter(study=study, platform="import").values_list("user_id", "worker_id") if name
    }
    unit_key = None
    for chunk, items, candidates in chunks:
        for (ann_id, unit_id, item_pk, annotator_id, response_raw, order_raw, strategy, propensity, submitted_at,
             duration_ms, revision, cand_ids_raw, kind) in chunk:
            external_id, prompt, reference, doc_id, seg_id, meta = items[item_pk]
            if unit_id != unit_key:  # a unit's judgments share candidates, and often orders and responses
                unit_key = unit_id
                cand_ids = _json(cand_ids_raw)
                of_item = candidates[item_pk]
                unit_candidates = tuple(of_item[c] for c in cand_ids)
                decoded: dict = {}
                records_memo: dict = {}
            key = order_raw if isinstance(order_raw, str) else json.dumps(order_raw)
            display_order = decoded.get(key)
            if display_order is None:
                display_order = decoded[key] = tuple(_json(order_raw))
            rkey = response_raw if isinstance(response_raw, str) else json.dumps(response_raw, sort_keys=True)
            memo = records_memo.get(rkey)
            if memo is None:
                response = _json(response_raw)
                memo = records_memo[rkey] = (response, records_of(config, cand_ids, response))
            annotator = annotators.get(annotator_id)
            if annotator is None:
                annotator = annotators[annotator_id] = f"a{annotator_id}"
            yield AnnotationRow(
                ann_id, unit_id, external_id, prompt, unit_candidates, display_order, annotator, memo[0], memo[1],
                strategy, propensity, _iso(submitted_at), duration_ms, revision, reference, doc_id, seg_id, meta, kind,
                annotator_id in excluded,
            )
