"""The study spec (DESIGN.md, "Study spec"): parse and validate it. Pure: no Django.

Every key but slug, name and task_type has a default; an unknown key or a value that does
not fit raises SpecError naming it (as a dotted path).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from annotation.task_types import ConfigError, all_task_types, get_task_type
from elicitation.strategies import ParamsError, all_strategies, get_strategy

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,98}[a-z0-9]$|^[a-z0-9]$")
STATUSES = ("draft", "live", "paused", "closed")
QUALITY_DEFAULTS: dict[str, Any] = {
    "gold_rate": 0.0,  # share of units served from the gold units (items with meta.gold)
    "attention_rate": 0.0,  # share of units served as generated attention checks
    "repeat_share": 0.0,  # pairwise: share of an annotator's units shown to them again, sides swapped
    "repeat_gap": 5,  # ...at the earliest after this many other units
    "min_pass_rate": 0.0,  # annotators below this pass rate on checks are excluded...
    "min_checks": 3,  # ...once they have answered at least this many checks
    "min_seconds_per_unit": 0,  # faster submissions are flagged as speeding
    "lease_seconds": 900,  # how long an annotator holds a unit before it returns to the pool
}
CROWD_DEFAULTS: dict[str, Any] = {
    "platform": "",  # "prolific" or "mturk": enables the crowd entry link
    "quota": 0,  # units per crowd worker before the completion code (0: until none is left)
    "completion_code": "",  # shown (or sent back) only when the quota is done and checks pass
    "redirect_url": "",  # e.g. https://app.prolific.com/submissions/complete?cc=CODE
}
PLATFORMS = ("", "prolific", "mturk")
KEYS = {"slug", "name", "task_type", "task_config", "instructions", "redundancy", "strategy", "quality", "crowd", "status"}


class SpecError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _number(quality: Mapping[str, Any], key: str, lo: float, hi: float) -> float:
    value = quality[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise SpecError(f"quality.{key}", f"must be a number from {lo:g} to {hi:g}")
    return value


def _parse_crowd(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise SpecError("crowd", "must be an object")
    unknown = sorted(set(raw) - set(CROWD_DEFAULTS))
    if unknown:
        raise SpecError(f"crowd.{unknown[0]}", f"unknown key; expected one of: {', '.join(sorted(CROWD_DEFAULTS))}")
    crowd = {**CROWD_DEFAULTS, **raw}
    if crowd["platform"] not in PLATFORMS:
        raise SpecError("crowd.platform", 'must be "prolific", "mturk" or empty')
    quota = crowd["quota"]
    if isinstance(quota, bool) or not isinstance(quota, int) or not 0 <= quota <= 100_000:
        raise SpecError("crowd.quota", "must be a whole number from 0 to 100000")
    for key in ("completion_code", "redirect_url"):
        if not isinstance(crowd[key], str) or len(crowd[key]) > 500:
            raise SpecError(f"crowd.{key}", "must be text of at most 500 characters")
    if crowd["redirect_url"] and not crowd["redirect_url"].startswith("https://"):
        raise SpecError("crowd.redirect_url", "must be an https:// address")
    if crowd["platform"] == "prolific" and not (crowd["completion_code"] or crowd["redirect_url"]):
        # (an MTurk HIT is handed in by a form posted to MTurk; a code there is optional)
        raise SpecError("crowd.completion_code", "a Prolific study needs a completion code or a redirect URL")
    return crowd


def parse_spec(raw: Any) -> dict[str, Any]:
    """Return the complete spec, defaults filled in, or raise SpecError."""
    if not isinstance(raw, Mapping):
        raise SpecError("spec", "must be a JSON object")
    unknown = sorted(set(raw) - KEYS)
    if unknown:
        raise SpecError(unknown[0], f"unknown key; expected one of: {', '.join(sorted(KEYS))}")
    for key in ("slug", "name", "task_type"):
        if key not in raw:
            raise SpecError(key, "this field is required")

    slug = raw["slug"]
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        raise SpecError("slug", "use 1-100 lowercase letters, digits and hyphens (e.g. summaries-2026-11)")
    name = raw["name"]
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise SpecError("name", "must be non-empty text of at most 200 characters")

    if raw["task_type"] not in all_task_types():
        raise SpecError("task_type", f"unknown task type {raw['task_type']!r}; expected one of: {', '.join(sorted(all_task_types()))}")
    task_type = get_task_type(raw["task_type"])
    try:
        task_config = task_type.parse_config(raw.get("task_config", {}))
    except ConfigError as exc:
        raise SpecError(exc.field, exc.message) from None

    instructions = raw.get("instructions", "")
    if not isinstance(instructions, str):
        raise SpecError("instructions", "must be Markdown text")

    redundancy = raw.get("redundancy", 3)
    if isinstance(redundancy, bool) or not isinstance(redundancy, int) or not 1 <= redundancy <= 100:
        raise SpecError("redundancy", "must be a whole number from 1 to 100")

    strategy_raw = raw.get("strategy", {"name": "uniform"})
    if isinstance(strategy_raw, str):
        strategy_raw = {"name": strategy_raw}
    if not isinstance(strategy_raw, Mapping):
        raise SpecError("strategy", 'must be an object such as {"name": "uniform", "params": {}}')
    unknown = sorted(set(strategy_raw) - {"name", "params"})
    if unknown:
        raise SpecError(f"strategy.{unknown[0]}", "unknown key; expected name and params")
    strategy_name = strategy_raw.get("name", "uniform")
    if strategy_name not in all_strategies():
        raise SpecError("strategy.name", f"unknown strategy {strategy_name!r}; expected one of: {', '.join(sorted(all_strategies()))}")
    try:
        params = get_strategy(strategy_name).parse_params(strategy_raw.get("params", {}))
    except ParamsError as exc:
        raise SpecError(exc.field, exc.message) from None

    quality_raw = raw.get("quality", {})
    if not isinstance(quality_raw, Mapping):
        raise SpecError("quality", "must be an object")
    unknown = sorted(set(quality_raw) - set(QUALITY_DEFAULTS))
    if unknown:
        raise SpecError(f"quality.{unknown[0]}", f"unknown key; expected one of: {', '.join(sorted(QUALITY_DEFAULTS))}")
    quality = {**QUALITY_DEFAULTS, **quality_raw}
    _number(quality, "gold_rate", 0, 0.5)
    _number(quality, "attention_rate", 0, 0.5)
    _number(quality, "repeat_share", 0, 1)
    if not isinstance(quality["repeat_gap"], int) or isinstance(quality["repeat_gap"], bool) or not 1 <= quality["repeat_gap"] <= 1000:
        raise SpecError("quality.repeat_gap", "must be a whole number from 1 to 1000")
    if quality["repeat_share"] and task_type.name != "pairwise":
        raise SpecError("quality.repeat_share", "swapped repeats are for pairwise studies (two candidates whose sides can swap)")
    _number(quality, "min_pass_rate", 0, 1)
    _number(quality, "min_checks", 1, 1000)
    _number(quality, "min_seconds_per_unit", 0, 3600)
    _number(quality, "lease_seconds", 30, 7 * 24 * 3600)

    crowd = _parse_crowd(raw.get("crowd", {}))

    status = raw.get("status", "draft")
    if status not in STATUSES:
        raise SpecError("status", f"must be one of: {', '.join(STATUSES)}")

    return {
        "slug": slug,
        "name": name.strip(),
        "task_type": task_type.name,
        "task_config": task_config,
        "instructions": instructions,
        "redundancy": redundancy,
        "strategy": {"name": strategy_name, "params": params},
        "quality": quality,
        "crowd": crowd,
        "status": status,
    }
