"""Rubric: a checklist of weighted criteria over one candidate per unit, per study or per item.

Config (task_config):
    criteria         list of {"id", "text", "weight" (> 0, default 1),
                     "scale": "ynp" (yes / partial / no = 1 / 0.5 / 0) or [0, k] (integers),
                     "evidence": "none" | "optional" | "required" (a span of the candidate)}.
    criteria_source  "study": the criteria above; "item": each item brings its own list in
                     meta["rubric"] (same shape), which the task type reads from
                     UnitContent.meta. Default: "study" when criteria are given, else "item".

Response: {"criteria": {"<id>": {"value": "yes"|"partial"|"no" or int, "evidence":
{"start", "end"}}}}; every criterion required, evidence offsets are code points into the
candidate text (see mqm.py on UTF-16). The stored response adds, per criterion, "score"
(value normalized to [0, 1]) and "weight", so that records() needs no item metadata.

Records: Score(candidate, <criterion id>, normalized value) per criterion and
Score(candidate, "rubric", sum(weight * score) / sum(weight)).
"""

from __future__ import annotations

import math
import re
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

YNP = {"yes": 1.0, "partial": 0.5, "no": 0.0}
EVIDENCE_MODES = ("none", "optional", "required")
CRITERION_KEYS = {"id", "text", "weight", "scale", "evidence"}
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
RESERVED_IDS = {"rubric"}  # the total's aspect name
MAX_CRITERIA = 100
MAX_TEXT = 2000
MAX_SCALE = 100


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_criteria(raw: Any, where: str) -> list[dict[str, Any]]:
    """Validate a list of criteria (the study's, or an item's meta["rubric"]); fill defaults.
    Raises ConfigError whose field is a dotted path under `where`."""
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_CRITERIA:
        raise ConfigError(where, f"must be a list of 1-{MAX_CRITERIA} criteria")
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, crit in enumerate(raw):
        at = f"{where}[{i}]"
        if not isinstance(crit, Mapping):
            raise ConfigError(at, 'must be an object such as {"id": "cites", "text": "Cites a source", "scale": "ynp"}')
        reject_unknown_keys(crit, CRITERION_KEYS, at)
        cid = crit.get("id")
        if not isinstance(cid, str) or not ID_RE.match(cid) or cid in RESERVED_IDS:
            raise ConfigError(f"{at}.id", "must be 1-64 letters, digits, '-' or '_' (and not 'rubric')")
        if cid in seen:
            raise ConfigError(f"{at}.id", f"criterion {cid!r} is listed twice")
        seen.add(cid)
        text = crit.get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
            raise ConfigError(f"{at}.text", f"must be text of 1-{MAX_TEXT} characters")
        weight = crit.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight <= 0:
            raise ConfigError(f"{at}.weight", "must be a finite number > 0")
        scale = crit.get("scale", "ynp")
        if scale != "ynp":
            if (
                not isinstance(scale, (list, tuple))
                or len(scale) != 2
                or not all(is_int(v) for v in scale)
                or scale[0] != 0
                or not 1 <= scale[1] <= MAX_SCALE
            ):
                raise ConfigError(f"{at}.scale", f'must be "ynp" (yes / partial / no) or [0, k] with 1 <= k <= {MAX_SCALE}')
            scale = [0, scale[1]]
        evidence = crit.get("evidence", "none")
        if evidence not in EVIDENCE_MODES:
            raise ConfigError(f"{at}.evidence", f"must be one of: {', '.join(EVIDENCE_MODES)}")
        out.append({"id": cid, "text": text, "weight": weight, "scale": scale, "evidence": evidence})
    return out


def normalized(scale: Any, value: Any) -> float | None:
    """A criterion value on [0, 1], or None when the value does not fit the scale."""
    if scale == "ynp":
        return YNP.get(value) if isinstance(value, str) else None
    if is_int(value) and 0 <= value <= scale[1]:
        return value / scale[1]
    return None


def total(scored: Mapping[str, Mapping[str, Any]]) -> float:
    weights = sum(c["weight"] for c in scored.values())
    return round(sum(c["weight"] * c["score"] for c in scored.values()) / weights, 10) if weights else 0.0


@register
class Rubric(TaskType):
    name = "rubric"
    label = "Rubric (weighted checklist of criteria)"

    defaults: dict[str, Any] = {"criteria": [], "criteria_source": None}

    def parse_config(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(raw, Mapping):
            raise ConfigError("task_config", "must be an object")
        reject_unknown_keys(raw, set(self.defaults), "task_config")
        cfg = {**self.defaults, **raw}
        source = cfg["criteria_source"]
        if source is None:
            source = "study" if cfg["criteria"] else "item"
        if source not in ("study", "item"):
            raise ConfigError("task_config.criteria_source", 'must be "study" or "item"')
        if source == "study":
            criteria = parse_criteria(cfg["criteria"], "task_config.criteria")
        else:
            if cfg["criteria"]:
                raise ConfigError(
                    "task_config.criteria",
                    'criteria come from each item (criteria_source "item"); leave this empty or use "study"',
                )
            criteria = []
        return {"criteria": criteria, "criteria_source": source}

    def unit_candidates(self, config: Mapping[str, Any], candidate_ids: Sequence[int]) -> list[tuple[int, ...]]:
        return [(cid,) for cid in candidate_ids]

    def check_item(self, config: Mapping[str, Any], meta: Mapping[str, Any]) -> None:
        self.criteria_for(config, meta)

    def item_widget_data(self, config: Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, Any]:
        return {"criteria": self.criteria_for(config, meta)}

    def criteria_for(self, config: Mapping[str, Any], meta: Mapping[str, Any] | None) -> list[dict[str, Any]]:
        """The criteria that apply to one item. Raises ConfigError (field "meta.rubric...")
        when the study takes criteria from items and this item's are missing or malformed;
        the item import should call this to refuse such items early."""
        if config["criteria_source"] == "study":
            return list(config["criteria"])
        rubric = (meta or {}).get("rubric")
        if rubric is None:
            raise ConfigError("meta.rubric", "this study takes its criteria from each item, and this item has none")
        return parse_criteria(rubric, "meta.rubric")

    def validate_response(self, config: Mapping[str, Any], unit: UnitContent, response: Any) -> dict[str, Any]:
        if not isinstance(response, Mapping):
            raise ResponseError({"response": "must be an object"})
        if len(unit.candidates) != 1:
            raise ResponseError({"unit": "a rubric unit shows exactly one candidate"})
        try:
            criteria = self.criteria_for(config, unit.meta)
        except ConfigError as exc:
            raise ResponseError({exc.field: f"{exc.message} (a problem with the item, not the answer)"}) from None
        errors: dict[str, str] = {k: "unknown field" for k in sorted(set(response) - {"criteria"}, key=str)}
        given = response.get("criteria")
        if not isinstance(given, Mapping):
            errors["criteria"] = "this field is required" if given is None else "must be an object mapping criterion id to {value, evidence}"
            raise ResponseError(errors)
        ids = [c["id"] for c in criteria]
        for key in sorted(set(given) - set(ids), key=str):
            errors[f"criteria.{key}"] = f"not a criterion of this item; criteria: {', '.join(ids)}"
        text = unit.candidates[0].text
        out: dict[str, dict[str, Any]] = {}
        for crit in criteria:
            cid, where = crit["id"], f"criteria.{crit['id']}"
            answer = given.get(cid)
            if answer is None:
                errors[where] = "this criterion needs an answer"
                continue
            if not isinstance(answer, Mapping):
                errors[where] = 'must be an object such as {"value": "yes"}'
                continue
            for key in sorted(set(answer) - {"value", "evidence", "score", "weight"}, key=str):
                errors[f"{where}.{key}"] = "unknown field"
            value = answer.get("value")
            score = normalized(crit["scale"], value)
            if score is None:
                expected = "yes, partial or no" if crit["scale"] == "ynp" else f"an integer from 0 to {crit['scale'][1]}"
                errors[f"{where}.value"] = "this field is required" if value is None else f"{value!r} does not fit; expected {expected}"
            # score and weight are set here; a stored response carries them, and may come back.
            if "score" in answer and answer["score"] != score:
                errors[f"{where}.score"] = "set by the server from value; leave it out"
            if "weight" in answer and answer["weight"] != crit["weight"]:
                errors[f"{where}.weight"] = "set by the study or the item; leave it out"
            entry: dict[str, Any] = {"value": value, "score": score, "weight": crit["weight"]}
            evidence = answer.get("evidence")
            if evidence is not None:
                if crit["evidence"] == "none":
                    errors[f"{where}.evidence"] = "this criterion takes no evidence span"
                elif not isinstance(evidence, Mapping) or set(evidence) != {"start", "end"}:
                    errors[f"{where}.evidence"] = 'must be {"start": int, "end": int}'
                else:
                    start, end = evidence["start"], evidence["end"]
                    if not is_int(start) or not is_int(end) or not 0 <= start < end <= len(text):
                        errors[f"{where}.evidence"] = f"must satisfy 0 <= start < end <= {len(text)} (code points of the candidate)"
                    else:
                        entry["evidence"] = {"start": start, "end": end}
            elif crit["evidence"] == "required" and score:
                # Evidence shows where a criterion is met; "no" has nothing to point at.
                errors[f"{where}.evidence"] = "this criterion needs an evidence span when it is met"
            out[cid] = entry
        if errors:
            raise ResponseError(errors)
        return {"criteria": out}

    def records(self, config: Mapping[str, Any], candidate_ids: Sequence[int], response: Mapping[str, Any]) -> Records:
        (cid,) = candidate_ids
        scored = response.get("criteria") or {}
        scores = [Score(int(cid), crit_id, float(c["score"])) for crit_id, c in scored.items()]
        scores.append(Score(int(cid), "rubric", total(scored)))
        return Records(scores=tuple(scores))

    def response_from_scores(self, config: Mapping[str, Any], meta: Mapping[str, Any], scores: Mapping[int, Mapping[str, float]]) -> dict[str, Any]:
        """Criterion scores (normalized values) back to values; the "rubric" total is derived,
        so it must equal the total of the criteria."""
        criteria = {c["id"]: c for c in self.criteria_for(config, meta)}
        (per_criterion,) = scores.values()
        out: dict[str, dict[str, Any]] = {}
        for cid, score in per_criterion.items():
            if cid == "rubric":
                continue
            crit = criteria.get(cid)
            if crit is None:
                raise ConfigError("aspect", f"{cid!r} is not a criterion of this item; criteria: {', '.join(criteria)}")
            if crit["scale"] == "ynp":
                value: Any = next((v for v, s in YNP.items() if s == score), None)
            else:
                value = round(score * crit["scale"][1])
                value = value if abs(value / crit["scale"][1] - score) < 1e-9 else None
            if value is None:
                raise ConfigError("score", f"{cid}: {score!r} is not a value of its scale")
            out[cid] = {"value": value}
        given_total = per_criterion.get("rubric")
        if given_total is not None and len(out) == len(criteria):
            derived = total({cid: {"score": normalized(criteria[cid]["scale"], v["value"]), "weight": criteria[cid]["weight"]} for cid, v in out.items()})
            if abs(derived - given_total) > 1e-6:
                raise ConfigError("score", f"rubric: the total {given_total!r} differs from the criteria's weighted total {derived!r}")
        return {"criteria": out}

    # Quality control -------------------------------------------------------------------

    def parse_gold(self, config: Mapping[str, Any], gold: Any, systems: Mapping[str, int]) -> dict[str, Any]:
        """Gold is a response ({"criteria": {id: {"value": ...}}}), validated at import."""
        if not isinstance(gold, Mapping) or set(gold) != {"criteria"}:
            raise ConfigError("meta.gold", 'must be a rubric response: {"criteria": {"<id>": {"value": ...}}}')
        return dict(gold)

    def gold_passes(self, config: Mapping[str, Any], expected: Mapping[str, Any], response: Mapping[str, Any]) -> bool:
        """The weighted score within 0.25 of the gold one (attention checks: at most a half)."""
        got = total(response.get("criteria") or {})
        if "max_total" in expected:
            return got <= expected["max_total"]
        return abs(got - total(expected.get("criteria") or {})) <= 0.25

    def attention_check(self, config: Mapping[str, Any], unit: UnitContent, rng) -> AttentionCheck | None:
        if config["criteria_source"] != "study":
            return None  # per-item criteria may not make a garbled text fail; no check
        target = unit.candidates[0]
        return AttentionCheck(target.id, degrade_text(target.text, rng), {"max_total": 0.5})
