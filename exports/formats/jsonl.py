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


def fragment(record: dict[str, Any]) -> str:
    """The members of a JSON object, without its braces: encode once what many lines share."""
    return _encode(record)[1:-1]


def write_fragments(handle: TextIO, shared: str, record: dict[str, Any]) -> None:
    """One line: the members in `shared` (from fragment()), then those of `record`."""
    tail = _encode(record)
    handle.write("{" + shared + ("," + tail[1:] if len(tail) > 2 else "}") + "\n")
