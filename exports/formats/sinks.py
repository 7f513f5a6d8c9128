"""One table, written as JSONL or Parquet, one file per split. Exporters describe their
columns once (kind + meaning) and hand rows over one at a time."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from exports.formats.base import FileSchema, FormatError
from exports.formats.jsonl import open_jsonl, write_fragments, write_line
from exports.formats.splits import Splitter

FILE_FORMATS = ("jsonl", "parquet")


def parse_file_format(options: Mapping[str, Any], allowed: tuple[str, ...] = FILE_FORMATS) -> None:
    if options["file_format"] not in allowed:
        raise FormatError(None, "options.file_format", f"must be one of: {', '.join(allowed)}")


class _JsonlSink:
    def __init__(self, path: Path):
        self.handle = open_jsonl(path)
        self.rows = 0

    def write(self, record: Mapping[str, Any]) -> None:
        write_line(self.handle, record)
        self.rows += 1

    def write_fragments(self, shared: str, record: Mapping[str, Any]) -> None:
        write_fragments(self.handle, shared, record)
        self.rows += 1

    def close(self) -> None:
        self.handle.close()


class Table:
    """`write(record, split)`. Without a splitter the file is `{stem}.{ext}`; with one, each
    split gets `{stem}/{split}.{ext}` (every split's file exists, even if empty)."""

    def __init__(self, out_dir: Path, stem: str, columns: Mapping[str, tuple[str, str]], file_format: str,
                 splitter: Splitter | None = None, config: str = ""):
        self.columns = columns
        self.config = config
        self.ext = file_format
        self.paths: dict[str, str] = {}
        self.sinks: dict[str, Any] = {}
        splits = splitter.splits if splitter is not None and splitter.test_size > 0 else None
        if splits is None:
            self.paths["train"] = f"{stem}.{self.ext}"
        else:
            (out_dir / stem).mkdir(parents=True, exist_ok=True)
            self.paths = {split: f"{stem}/{split}.{self.ext}" for split in splits}
        for split, rel in self.paths.items():
            path = out_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if file_format == "parquet":
                from exports.formats.parquet_writer import (
                    ParquetSink,  # pyarrow only when asked for
                )

                self.sinks[split] = ParquetSink(path, {name: kind for name, (kind, _) in columns.items()})
            else:
                self.sinks[split] = _JsonlSink(path)

    def write(self, record: Mapping[str, Any], split: str = "train") -> None:
        self.sinks[split].write(record)

    def write_fragments(self, shared: str, record: Mapping[str, Any], split: str = "train") -> None:
        """JSONL only: a line whose first members are already encoded (see jsonl.fragment)."""
        self.sinks[split].write_fragments(shared, record)

    def close(self) -> list[FileSchema]:
        for sink in self.sinks.values():
            sink.close()
        described = {name: meaning for name, (_, meaning) in self.columns.items()}
        return [FileSchema(rel, described, split=split, config=self.config, rows=self.sinks[split].rows) for split, rel in self.paths.items()]

    def abort(self) -> None:
        """An exporter failed: let go of the files (the job's folder is discarded)."""
        for sink in self.sinks.values():
            try:
                sink.close()
            except Exception:  # noqa: BLE001, S110 - the exporter's error is the one to report
                pass
