"""Streaming JSONL writing shared by the JSONL exporters."""

from __future__ import annotations

import json
from json.encoder import c_make_encoder, encode_basestring
from pathlib import Path
from typing import Any, TextIO

# One encoder for every line: json.dumps with keyword arguments builds a new encoder per call.
_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
_encode = _encoder.encode
if c_make_encoder is not None:
    # JSONEncoder.encode builds this C encoder anew on every call; build it once. Same
    # arguments as JSONEncoder.iterencode gives it, so the same text (tests/unit/test_export_formats.py).
    _c_encode = c_make_encoder(None, _encoder.default, encode_basestring, None, ":", ",", False, False, True)

    def _encode(value: Any, _join="".join, _c=_c_encode) -> str:
        return _join(_c(value, 0))


def encode(value: Any) -> str:
    """One JSON value as the lines write it: `fragment` of {"k": v} is '"k":' + encode(v)."""
    return _encode(value)


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
