"""Counter updates of the annotator hot path (a lease, a judgment) in plain SQL.

`Unit.objects.filter(...).update(n=F("n") + 1)` costs about 0.4 ms of CPU to build, the
statement itself 0.1 ms; a judgment makes four of them. Same semantics (one atomic
UPDATE, row-locked by the database), same SQL on PostgreSQL and SQLite.
"""

from __future__ import annotations

from functools import cache

from django.db import connection


@cache
def _sql(table: str, columns: tuple[str, ...], keys: tuple[str, ...], below: str | None) -> str:
    sets = ", ".join(f"{c} = {c} + %s" for c in columns)
    where = " AND ".join(f"{k} = %s" for k in keys)
    if below:
        where += f" AND {below} < %s"
    return f"UPDATE {table} SET {sets} WHERE {where}"


def add(model, where: dict[str, int], below: tuple[str, int] | None = None, **amounts: int) -> int:
    """UPDATE model SET column = column + amount ... WHERE key = value AND ... [AND
    below[0] < below[1]]; returns the number of rows changed. Column and key names are
    model field columns (e.g. "n_taken", "study_id"), never user input."""
    columns, keys = tuple(amounts), tuple(where)
    params = [*amounts.values(), *where.values()]
    if below is not None:
        params.append(below[1])
    sql = _sql(model._meta.db_table, columns, keys, below[0] if below else None)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
