"""Streaming Parquet: rows are buffered column by column and flushed as row groups bounded in
rows and in bytes, so memory stays flat however long the stream. Pure: pyarrow, no Django."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
JUDGE_PAIR = pa.struct([("name", pa.string()), ("a", pa.float64()), ("b", pa.float64())])

# Column kinds shared by the JSONL and Parquet writers. "json" holds any JSON value: native in
# JSONL, a JSON-encoded string in Parquet (whose schema must be fixed).
ARROW_TYPES: Mapping[str, pa.DataType] = {
    "string": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "messages": pa.list_(MESSAGE),
    "strings": pa.list_(pa.string()),
    "judge_pairs": pa.list_(JUDGE_PAIR),
    "json": pa.string(),
}

# Bounds of one row group, the most rows held at once. Smaller groups barely change speed
# or size (a million trl-preference rows: 197 MB of Parquet either way) but lower the peak.
ROWS_PER_GROUP = 5_000
BYTES_PER_GROUP = 8 << 20
# (config/settings.py makes the C allocator pyarrow's default: it gives the buffers of flushed
# row groups back, where mimalloc keeps them.)


def _size(value: Any) -> int:
    if value.__class__ is str:
        return len(value)
    if value.__class__ is list:
        return sum(len(m["content"]) if m.__class__ is dict and "content" in m else 16 for m in value)
    return 8


class ParquetSink:
    def __init__(self, path: Path, kinds: Mapping[str, str], *, rows_per_group: int | None = None, bytes_per_group: int | None = None):
        unknown = sorted(set(kinds.values()) - set(ARROW_TYPES))
        if unknown:
            raise ValueError(f"unknown column kind {unknown[0]!r}")
        self.names = list(kinds)
        self.json_columns = [n for n, k in kinds.items() if k == "json"]
        self.sized = [n for n, k in kinds.items() if k in ("string", "messages", "json")]
        self.schema = pa.schema([(n, ARROW_TYPES[k]) for n, k in kinds.items()])
        self.writer = pq.ParquetWriter(str(path), self.schema, compression="snappy")
        self.rows_per_group = rows_per_group or ROWS_PER_GROUP
        self.bytes_per_group = bytes_per_group or BYTES_PER_GROUP
        self.rows = 0
        self._reset()

    def _reset(self) -> None:
        self.buffers: dict[str, list] = {n: [] for n in self.names}
        self.appenders = [(n, self.buffers[n].append) for n in self.names]
        self.buffered = 0
        self.buffered_bytes = 0

    def write(self, record: Mapping[str, Any]) -> None:
        for name in self.json_columns:
            value = record.get(name)
            record = {**record, name: None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)}
        get = record.get
        for name, buffer in self.appenders:
            buffer(get(name))
        self.buffered += 1
        self.rows += 1
        size = 0
        for name in self.sized:
            value = get(name)
            size += len(value) if value.__class__ is str else _size(value)
        self.buffered_bytes += size
        if self.buffered >= self.rows_per_group or self.buffered_bytes >= self.bytes_per_group:
            self.flush()

    def flush(self) -> None:
        if self.buffered:
            arrays = [pa.array(self.buffers[f.name], type=f.type) for f in self.schema]
            self.writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema))
            self._reset()

    def close(self) -> None:
        self.flush()
        if self.rows == 0:  # a valid file with the schema and no rows
            self.writer.write_table(self.schema.empty_table())
        self.writer.close()
