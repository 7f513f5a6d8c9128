"""Importers of existing preference pairs, to re-annotate them: each pair becomes an item with
two candidates (the original chosen one first) and its original label in `meta.original`.

`trl-preference` reads TRL's preference JSONL in any of its forms:
- explicit prompt: {"prompt", "chosen", "rejected"}, text or chat messages (conversational);
- implicit prompt: {"chosen", "rejected"} only. For chat messages the prompt is the shared
  message prefix; for text (Anthropic hh-rlhf transcripts, "\\n\\nHuman: ...\\n\\nAssistant: ...")
  it is the shared prefix up to and including the last "\\n\\nAssistant:" both share, so replies
  that differ in more than their final turn, or that contain "Human:" themselves, still split
  where the two transcripts part.
Optional columns: `id` (else `pair-<line>`), `chosen_system` / `rejected_system` (or
`chosen_model` / `rejected_model`; else "chosen" / "rejected"), and `score_chosen` /
`score_rejected` (kept as the judge `source_score` of each candidate). Any other column with a
plain value (`prompt_id`, `margin`, votes, agreement...) is kept in `meta.original`; other
columns (e.g. a `messages` copy of the pair) are ignored.

`hh-rlhf` reads the same, and turns a transcript prompt into chat messages (Human -> user,
Assistant -> assistant) and strips the space that starts each reply, for the chat view.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from exports.formats.base import CandidateRecord, FormatError, ItemImporter, ItemRecord
from exports.formats.items import MAX_TEXT, ROLES, check_unique_ids
from exports.formats.registry import register_importer

ASSISTANT = "\n\nAssistant:"
TURN = re.compile(r"\n\n(Human|Assistant):")
KEYS = {"id", "prompt", "chosen", "rejected", "chosen_system", "rejected_system", "chosen_model", "rejected_model",
        "score_chosen", "score_rejected"}


def split_transcripts(chosen: str, rejected: str) -> tuple[str, str, str]:
    """(prompt, chosen reply, rejected reply) of two transcripts: the prompt is their shared
    prefix up to and including the last "\\n\\nAssistant:" inside it."""
    shared = 0
    limit = min(len(chosen), len(rejected))
    while shared < limit and chosen[shared] == rejected[shared]:
        shared += 1
    cut = chosen.rfind(ASSISTANT, 0, shared)  # the marker must lie wholly inside the shared part
    if cut < 0:
        raise ValueError('the two transcripts share no "\\n\\nAssistant:" turn, so there is no common prompt')
    end = cut + len(ASSISTANT)
    return chosen[:end], chosen[end:], rejected[end:]


def transcript_messages(prompt: str) -> list[dict[str, str]]:
    """"\\n\\nHuman: a\\n\\nAssistant: b\\n\\nHuman: c\\n\\nAssistant:" -> user a, assistant b, user c."""
    parts = TURN.split(prompt)
    if parts[0].strip():
        raise ValueError('a transcript must start with "\\n\\nHuman:"')
    messages = []
    for speaker, text in zip(parts[1::2], parts[2::2], strict=True):
        messages.append({"role": "user" if speaker == "Human" else "assistant", "content": text.strip()})
    if messages and messages[-1]["role"] == "assistant" and not messages[-1]["content"]:
        messages.pop()  # the open "Assistant:" turn the replies answer
    if not messages:
        raise ValueError("the transcript has no turns")
    return messages


def _messages(value: Any, line: int, field: str) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise FormatError(line, field, "must be text or a non-empty list of chat messages")
    for i, m in enumerate(value):
        if not isinstance(m, Mapping) or not {"role", "content"} <= set(m) or not isinstance(m["content"], str):
            raise FormatError(line, f"{field}[{i}]", 'each message must be {"role": ..., "content": "..."}')
        if m["role"] not in ROLES:
            raise FormatError(line, f"{field}[{i}].role", f"must be one of: {', '.join(sorted(ROLES))}")
        if "\x00" in m["content"]:
            raise FormatError(line, f"{field}[{i}].content", "contains a NUL character (\\u0000), which text may not hold")
    return [{"role": m["role"], "content": m["content"]} for m in value]


def _text(value: Any, line: int, field: str) -> str:
    if not isinstance(value, str):
        raise FormatError(line, field, "must be text (or chat messages, like the other fields)")
    if len(value) > MAX_TEXT:
        raise FormatError(line, field, f"longer than {MAX_TEXT} characters")
    if "\x00" in value:
        raise FormatError(line, field, "contains a NUL character (\\u0000), which text may not hold")
    return value


def _reply(messages: list[dict[str, str]], line: int, field: str) -> str:
    if len(messages) != 1 or messages[0]["role"] != "assistant":
        raise FormatError(line, field, "must be one assistant message (the reply) after the prompt")
    return messages[0]["content"]


def _pair(obj: Mapping[str, Any], line: int, as_chat: bool) -> tuple[Any, str, str]:
    """(prompt, chosen reply, rejected reply)."""
    chosen, rejected = obj["chosen"], obj["rejected"]
    conversational = isinstance(chosen, list)
    if conversational != isinstance(rejected, list):
        raise FormatError(line, "rejected", "must have the same form as chosen (both text or both chat messages)")
    if "prompt" in obj:
        if conversational:
            prompt = obj["prompt"] if isinstance(obj["prompt"], list) else [{"role": "user", "content": obj["prompt"]}]
            return (_messages(prompt, line, "prompt"), _reply(_messages(chosen, line, "chosen"), line, "chosen"),
                    _reply(_messages(rejected, line, "rejected"), line, "rejected"))
        prompt = obj["prompt"] if isinstance(obj["prompt"], str) else _messages(obj["prompt"], line, "prompt")
        if isinstance(prompt, str):
            prompt = _text(prompt, line, "prompt")
            if as_chat and TURN.search(prompt):
                try:
                    prompt = transcript_messages(prompt)
                except ValueError as exc:
                    raise FormatError(line, "prompt", str(exc)) from None
        reply_c, reply_r = _text(chosen, line, "chosen"), _text(rejected, line, "rejected")
        return prompt, (reply_c.strip() if as_chat else reply_c), (reply_r.strip() if as_chat else reply_r)
    if conversational:  # implicit prompt: the shared message prefix
        c, r = _messages(chosen, line, "chosen"), _messages(rejected, line, "rejected")
        shared = 0
        while shared < min(len(c), len(r)) - 1 and c[shared] == r[shared]:
            shared += 1
        if shared == 0:
            raise FormatError(line, "chosen", "chosen and rejected share no prompt messages")
        return c[:shared], _reply(c[shared:], line, "chosen"), _reply(r[shared:], line, "rejected")
    c, r = _text(chosen, line, "chosen"), _text(rejected, line, "rejected")
    try:
        prompt, reply_c, reply_r = split_transcripts(c, r)
    except ValueError as exc:
        raise FormatError(line, "chosen", str(exc)) from None
    if as_chat:
        try:
            return transcript_messages(prompt), reply_c.strip(), reply_r.strip()
        except ValueError as exc:
            raise FormatError(line, "chosen", str(exc)) from None
    return prompt, reply_c, reply_r


def _system(obj: Mapping[str, Any], side: str, line: int) -> str | None:
    for key in (f"{side}_system", f"{side}_model"):
        value = obj.get(key)
        if value is not None:
            if not isinstance(value, str) or not value.strip() or len(value) > 200:
                raise FormatError(line, key, "must be a system name of 1-200 characters")
            return value.strip()
    return None


def preference_item(obj: Any, line: int, as_chat: bool) -> ItemRecord:
    if not isinstance(obj, Mapping):
        raise FormatError(line, "row", "must be a JSON object")
    for key in ("chosen", "rejected"):
        if key not in obj:
            raise FormatError(line, key, "this field is required")
    prompt, chosen, rejected = _pair(obj, line, as_chat)
    system_c, system_r = _system(obj, "chosen", line), _system(obj, "rejected", line)
    if system_c is None or system_r is None or system_c == system_r:
        system_c, system_r = "chosen", "rejected"  # one name per candidate, as items need
    item_id = obj.get("id", f"pair-{line}")
    if isinstance(item_id, int) and not isinstance(item_id, bool):
        item_id = str(item_id)
    if not isinstance(item_id, str) or not item_id.strip() or len(item_id) > 200:
        raise FormatError(line, "id", "must be 1-200 characters")
    original: dict[str, Any] = {"chosen": system_c, "rejected": system_r}
    for key, value in obj.items():  # provenance (prompt_id, margin, votes, agreement, ...) rides along
        if key not in KEYS and (value is None or isinstance(value, (str, int, float, bool))):
            original[key] = value
    judges = {}
    for side in ("chosen", "rejected"):
        score = obj.get(f"score_{side}")
        if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score)):
            raise FormatError(line, f"score_{side}", "must be a finite number")
        judges[side] = {"source_score": float(score)} if score is not None else {}
    return ItemRecord(
        id=item_id.strip(),
        prompt=prompt,
        candidates=(CandidateRecord(system_c, chosen, judges["chosen"]), CandidateRecord(system_r, rejected, judges["rejected"])),
        meta={"original": original},
        line=line,
    )


class _PreferenceImporter(ItemImporter):
    as_chat = False

    def parse(self, lines: Iterable[str]) -> Iterator[ItemRecord]:
        def parsed() -> Iterator[ItemRecord]:
            for number, raw in enumerate(lines, start=1):
                if not raw.strip():
                    continue
                try:
                    obj = json.loads(raw)
                except json.JSONDecodeError as exc:
                    raise FormatError(number, "json", f"not valid JSON ({exc.msg} at column {exc.colno})") from None
                yield preference_item(obj, number, self.as_chat)

        return check_unique_ids(parsed())


@register_importer
class TrlPreferenceImport(_PreferenceImporter):
    name = "trl-preference"
    label = "Preference pairs to re-annotate (TRL JSONL: prompt/chosen/rejected, or hh-rlhf transcripts)"


@register_importer
class HhRlhfImport(_PreferenceImporter):
    name = "hh-rlhf"
    label = "Preference pairs as chat (hh-rlhf transcripts or TRL JSONL; prompts become messages)"
    as_chat = True
