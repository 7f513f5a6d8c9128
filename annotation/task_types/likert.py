"""Likert ratings: one or more aspects, each with its own integer scale and point labels,
over one candidate per unit or all candidates of the item side by side.

Config (task_config):
    aspects          list of {"name", "scale": [lo, hi], "labels": {point: label}};
                     default one aspect "overall" on 1..5. A slider is just a wide scale
                     such as [0, 100].
    side_by_side     false: one candidate per unit (default); true: every candidate of the
                     item in one unit, each rated on every aspect.
    randomize_order  shuffle the display order of side-by-side candidates (default true).

Response: {"ratings": {"<candidate id>": {"<aspect>": <int>}}}: every candidate shown x every
aspect, each an integer on that aspect's scale. Records: Score(candidate, aspect, value).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from annotation.task_types.base import (
    AttentionCheck,
    ConfigError,
    Records,
    ResponseError,
    Score,
    TaskType,
    UnitContent,
    degrade_text,
    reject_unknown_keys,
)
from annotation.task_types.registry import register

MAX_ASPECTS = 20
MAX_SCALE_POINTS = 1001  # [0, 1000] is the widest slider
MAX_LABEL = 200
ASPECT_KEYS = {"name", "scale", "labels"}


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _aspect(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ConfigError(where, 'must be an object such as {"name": "helpfulness", "scale": [1, 5]}')
    reject_unknown_keys(raw, ASPECT_KEYS, where)
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 64 or "." in name or name != name.strip():
        raise ConfigError(f"{where}.name", "must be a name of 1-64 characters without dots or surrounding spaces")
    scale = raw.get("scale", [1, 5])
    if (
        not isinstance(scale, (list, tuple))
        or len(scale) != 2
        or not all(is_int(v) for v in scale)
        or not scale[0] < scale[1]
        or scale[1] - scale[0] + 1 > MAX_SCALE_POINTS
    ):
        raise ConfigError(
            f"{where}.scale",
            f"must be two integers [lo, hi] with lo < hi, at most {MAX_SCALE_POINTS} points (e.g. [1, 5] or [0, 100])",
        )
    lo, hi = scale
    labels_raw = raw.get("labels", {})
    if labels_raw is None:
        labels_raw = {}
    if not isinstance(labels_raw, Mapping):
        raise ConfigError(f"{where}.labels", 'must be an object mapping a scale point to its label, e.g. {"1": "poor"}')
    labels: dict[str, str] = {}
    for point, label in labels_raw.items():
        key = str(point)
        try:
            value = int(key)
        except ValueError:
            value = None
        if value is None or str(value) != key.strip() or not lo <= value <= hi:
            raise ConfigError(f"{where}.labels.{key}", f"must be an integer point of the scale {lo}..{hi}")
        if not isinstance(label, str) or not label.strip() or len(label) > MAX_LABEL:
            raise ConfigError(f"{where}.labels.{key}", f"must be a label of 1-{MAX_LABEL} characters")
        labels[str(value)] = label
    return {"name": name, "scale": [lo, hi], "labels": dict(sorted(labels.items(), key=lambda kv: int(kv[0])))}


@register
class Likert(TaskType):
    name = "likert"
    label = "Likert ratings (one or more aspects)"

    defaults: dict[str, Any] = {
        "aspects": [{"name": "overall", "scale": [1, 5], "labels": {}}],
        "side_by_side": False,
        "randomize_order": True,
    }

    def parse_config(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(raw, Mapping):
            raise ConfigError("task_config", "must be an object")
        reject_unknown_keys(raw, set(self.defaults), "task_config")
        cfg = {**self.defaults, **raw}
        for key in ("side_by_side", "randomize_order"):
            if not isinstance(cfg[key], bool):
                raise ConfigError(f"task_config.{key}", "must be true or false")
        aspects_raw = cfg["aspects"]
        if not isinstance(aspects_raw, list) or not 1 <= len(aspects_raw) <= MAX_ASPECTS:
            raise ConfigError("task_config.aspects", f"must be a list of 1-{MAX_ASPECTS} aspects")
        aspects = [_aspect(a, f"task_config.aspects[{i}]") for i, a in enumerate(aspects_raw)]
        names = [a["name"] for a in aspects]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise ConfigError(f"task_config.aspects[{i}].name", f"aspect {name!r} is listed twice")
        cfg["aspects"] = aspects
        return cfg

    def unit_candidates(self, config: Mapping[str, Any], candidate_ids: Sequence[int]) -> list[tuple[int, ...]]:
        if not candidate_ids:
            return []
        if config["side_by_side"]:
            return [tuple(candidate_ids)]
        return [(cid,) for cid in candidate_ids]

    def validate_response(self, config: Mapping[str, Any], unit: UnitContent, response: Any) -> dict[str, Any]:
        if not isinstance(response, Mapping):
            raise ResponseError({"response": "must be an object"})
        errors: dict[str, str] = {k: "unknown field" for k in sorted(set(response) - {"ratings"})}
        ratings = response.get("ratings")
        if "ratings" not in response:
            errors["ratings"] = "this field is required"
            raise ResponseError(errors)
        if not isinstance(ratings, Mapping):
            errors["ratings"] = "must be an object mapping candidate id to {aspect: rating}"
            raise ResponseError(errors)
        shown = [str(c.id) for c in unit.candidates]
        given = {str(k): v for k, v in ratings.items()}
        for key in sorted(set(given) - set(shown)):
            errors[f"ratings.{key}"] = f"not a candidate of this unit; shown: {', '.join(shown)}"
        out: dict[str, dict[str, int]] = {}
        for cid in shown:
            if cid not in given:
                errors[f"ratings.{cid}"] = "every candidate shown needs ratings"
                continue
            per_aspect = given[cid]
            if not isinstance(per_aspect, Mapping):
                errors[f"ratings.{cid}"] = "must be an object mapping aspect to rating"
                continue
            known = [a["name"] for a in config["aspects"]]
            for name in sorted(set(per_aspect) - set(known), key=str):
                errors[f"ratings.{cid}.{name}"] = f"not an aspect of this study; aspects: {', '.join(known)}"
            out[cid] = {}
            for aspect in config["aspects"]:
                name, (lo, hi) = aspect["name"], aspect["scale"]
                field = f"ratings.{cid}.{name}"
                if name not in per_aspect:
                    errors[field] = "this aspect needs a rating"
                    continue
                value = per_aspect[name]
                if not is_int(value) or not lo <= value <= hi:
                    errors[field] = f"{value!r} is off the scale; expected an integer from {lo} to {hi}"
                    continue
                out[cid][name] = value
        if errors:
            raise ResponseError(errors)
        return {"ratings": out}

    def records(self, config: Mapping[str, Any], candidate_ids: Sequence[int], response: Mapping[str, Any]) -> Records:
        scores = []
        for cid in candidate_ids:
            for aspect, value in (response.get("ratings", {}).get(str(cid)) or {}).items():
                scores.append(Score(int(cid), aspect, float(value)))
        return Records(scores=tuple(scores))

    def response_from_scores(self, config: Mapping[str, Any], meta: Mapping[str, Any], scores: Mapping[int, Mapping[str, float]]) -> dict[str, Any]:
        ratings: dict[str, dict[str, int]] = {}
        for cid, per_aspect in scores.items():
            ratings[str(cid)] = {}
            for aspect, score in per_aspect.items():
                if score != int(score):
                    raise ConfigError("score", f"{aspect}: {score!r} is not a whole rating")
                ratings[str(cid)][aspect] = int(score)
        return {"ratings": ratings}

    # Quality control -------------------------------------------------------------------

    @staticmethod
    def _tolerance(aspect: Mapping[str, Any]) -> float:
        lo, hi = aspect["scale"]
        return max(1.0, round(0.2 * (hi - lo)))

    def parse_gold(self, config: Mapping[str, Any], gold: Any, systems: Mapping[str, int]) -> dict[str, Any]:
        """Gold ratings, by system: {"ratings": {"<system>": {"<aspect>": value}}}."""
        if not isinstance(gold, Mapping) or set(gold) != {"ratings"} or not isinstance(gold["ratings"], Mapping):
            raise ConfigError("meta.gold", 'must be {"ratings": {"<system>": {"<aspect>": value}}}')
        ratings = {}
        for system, values in gold["ratings"].items():
            if system not in systems:
                raise ConfigError(f"meta.gold.ratings.{system}", "not a system of this item")
            ratings[str(systems[system])] = values
        return {"ratings": ratings}

    def gold_passes(self, config: Mapping[str, Any], expected: Mapping[str, Any], response: Mapping[str, Any]) -> bool:
        """Every expected rating matched within max(1, 20% of the scale)."""
        aspects = {a["name"]: a for a in config["aspects"]}
        given = response.get("ratings", {})
        for cid, values in expected.get("ratings", {}).items():
            for name, value in values.items():
                got = given.get(str(cid), {}).get(name)
                if got is None or abs(got - value) > self._tolerance(aspects[name]):
                    return False
        return True

    def attention_check(self, config: Mapping[str, Any], unit: UnitContent, rng) -> AttentionCheck | None:
        # The first candidate becomes a garbled copy of itself: it must get (near) the bottom.
        target = unit.candidates[0]
        expected = {"ratings": {str(target.id): {a["name"]: a["scale"][0] for a in config["aspects"]}}}
        return AttentionCheck(target.id, degrade_text(target.text, rng), expected)
