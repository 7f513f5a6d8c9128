"""Streaming JSONL writing shared by the JSONL exporters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

# One encoder for every line: json.dumps with keyword arguments builds a new encoder per call.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode


def open_jsonl(path: Path) -> TextIO:
    return path.open("w", encoding="utf-8", newline="\n", buffering=1 << 20)


def write_line(handle: TextIO, record: dict[str, Any]) -> None:
    handle.write(_encode(record))
    handle.write("\n")
