"""Train/test splits by prompt: a seeded hash of the prompt's content decides its split, so
the same prompt (even under two item ids) never lands in both, and the split of a row is known
the moment it streams by (no second pass, no memory of prompts seen)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from exports.formats.base import FormatError

SPLIT_OPTIONS: Mapping[str, Any] = {"test_size": 0.0, "seed": 0}


def parse_split_options(options: Mapping[str, Any]) -> None:
    size = options["test_size"]
    if isinstance(size, bool) or not isinstance(size, (int, float)) or not 0 <= size < 1:
        raise FormatError(None, "options.test_size", "must be a number from 0 (no test split) to below 1, e.g. 0.1")
    seed = options["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise FormatError(None, "options.seed", "must be a whole number")


def prompt_key(prompt: Any) -> str:
    """What counts as "the same prompt": its text, or its messages as canonical JSON."""
    return prompt if isinstance(prompt, str) else json.dumps(prompt, sort_keys=True, ensure_ascii=False)


class Splitter:
    """split_of(prompt) -> "train" or "test"; about `test_size` of the distinct prompts go to test."""

    def __init__(self, test_size: float, seed: int):
        self.test_size = float(test_size)
        self.seed = str(int(seed)).encode()
        self._last: tuple[Any, str] | None = None  # rows of one item arrive together: remember one

    @property
    def splits(self) -> tuple[str, ...]:
        return ("train", "test") if self.test_size > 0 else ("train",)

    def split_of(self, prompt: Any) -> str:
        if self.test_size <= 0:
            return "train"
        last = self._last
        if last is not None and last[0] is prompt:  # holding the object keeps its identity unique
            return last[1]
        digest = hashlib.blake2b(prompt_key(prompt).encode("utf-8"), digest_size=8, key=self.seed).digest()
        split = "test" if int.from_bytes(digest, "big") / 2.0**64 < self.test_size else "train"
        self._last = (prompt, split)
        return split


def splitter_from(options: Mapping[str, Any]) -> Splitter:
    return Splitter(options["test_size"], options["seed"])
