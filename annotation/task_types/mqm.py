"""MQM error-span annotation (Freitag et al. 2021), with an optional ESA-style 0-100 score.

One candidate per unit. The annotator marks character spans in the candidate (the target)
and, if allowed, in the source (the item's prompt), each with a category of the study's
typology, a severity and an optional note; or states explicitly that there is no error.

Offsets
    `start`/`end` are Python str indices, i.e. Unicode code points, into the text exactly as
    stored (no normalization, no trimming): 0 <= start < end <= len(text). Browsers index
    strings in UTF-16 code units, so the widget must convert before submitting (characters
    outside the BMP, such as most emoji, count 2 in JavaScript and 1 here), e.g. with
    `Array.from(text.slice(0, utf16Offset)).length`. Whole-segment categories (default
    "Non-translation") take no span: omit start/end or send 0/0; they are stored as 0/0.

Config (task_config)
    typology                  {top-level category: [subcategories]}; a category is "Top/Sub",
                              or "Top" when Top has no subcategories. Default: Freitag et al.
    severities                subset of minor, major, critical, neutral. Default minor, major,
                              neutral: critical is OFF by default because the reference
                              protocol (Freitag et al. 2021, the WMT MQM data and the
                              mqm-tsv / mt-metrics-eval exports) has no critical level, so
                              default scores stay comparable with published MQM scores.
                              Add "critical" to use it (default weight 10).
    weights                   {key: weight >= 0}; key is "severity", "severity/Category",
                              "severity/Top", "Category" or "Top" (any severity); the most
                              specific key wins in that order. Default major 5, minor 1,
                              neutral 0, minor/Fluency/Punctuation 0.1, Non-translation 25
                              (critical 10 when enabled). Given weights replace the default
                              table and must give every enabled severity a weight.
    max_errors                at most this many errors per response (default 5, as in the
                              WMT protocol); null for no limit.
    whole_segment_categories  categories that take no span (default ["Non-translation"] when
                              the typology has it, else none).
    allow_source_spans        spans may sit in the source (side "source"); default true.
    esa_score                 also collect an overall 0-100 score (ESA); default false.
    allow_overlap             spans on the same side may overlap; default false.

Response
    {"errors": [{"start", "end", "side": "target"|"source", "category", "severity",
                 "note"}], "no_error": bool, "score": int (only with esa_score)}
    "No error" is explicit: no_error true with no errors; otherwise at least one error.

Records: Score(candidate, "mqm", -penalty) (higher is better, 0 for a clean segment) and,
with esa_score, Score(candidate, "esa", score).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from annotation.task_types.base import (
    AttentionCheck,
    ConfigError,
    Records,
    ResponseError,
    Score,
    TaskType,
    UnitContent,
    reject_unknown_keys,
)
from annotation.task_types.registry import register

SEVERITIES = ("minor", "major", "critical", "neutral")
SIDES = ("target", "source")
MAX_NOTE = 1000

DEFAULT_TYPOLOGY: dict[str, list[str]] = {
    "Accuracy": ["Addition", "Omission", "Mistranslation", "Untranslated text"],
    "Fluency": ["Grammar", "Spelling", "Punctuation", "Register", "Inconsistency", "Character encoding"],
    "Terminology": ["Inappropriate for context", "Inconsistent use"],
    "Style": ["Awkward"],
    "Locale convention": ["Address format", "Currency format", "Date format", "Name format", "Telephone format", "Time format"],
    "Other": [],
    "Non-translation": [],
    "Source error": [],
}
DEFAULT_SEVERITIES = ["minor", "major", "neutral"]
DEFAULT_WEIGHTS: dict[str, float] = {
    "major": 5,
    "minor": 1,
    "neutral": 0,
    "critical": 10,
    "minor/Fluency/Punctuation": 0.1,
    "Non-translation": 25,
}
ERROR_KEYS = {"start", "end", "side", "category", "severity", "note"}


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def categories(typology: Mapping[str, Sequence[str]]) -> list[str]:
    """Every category an error may take: "Top/Sub", or "Top" when Top has no subcategories."""
    out = []
    for top, subs in typology.items():
        out += [f"{top}/{sub}" for sub in subs] if subs else [top]
    return out


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip() or value != value.strip() or len(value) > 100 or "\t" in value or "\n" in value:
        raise ConfigError(where, "must be a name of 1-100 characters without tabs, newlines or surrounding spaces")
    return value


def _typology(raw: Any) -> dict[str, list[str]]:
    where = "task_config.typology"
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError(where, 'must be an object {"Top": ["Sub", ...], "Other": []} with at least one category')
    out: dict[str, list[str]] = {}
    for top, subs in raw.items():
        _name(top, f"{where}.{top}")
        if "/" in top:
            raise ConfigError(f"{where}.{top}", "a top-level category cannot contain '/'")
        if not isinstance(subs, list):
            raise ConfigError(f"{where}.{top}", "must be a list of subcategories (empty for none)")
        for i, sub in enumerate(subs):
            _name(sub, f"{where}.{top}[{i}]")
            if "/" in sub:
                raise ConfigError(f"{where}.{top}[{i}]", "a subcategory cannot contain '/'")
        if len(set(subs)) != len(subs):
            raise ConfigError(f"{where}.{top}", "subcategories must be unique")
        out[top] = list(subs)
    return out


def _weight_key_ok(key: str, severities: Sequence[str], cats: set[str], tops: set[str]) -> bool:
    if key in severities:
        return True
    head, _, rest = key.partition("/")
    if head in severities and rest:
        return rest in cats or rest in tops
    return key in cats or key in tops


def error_weight(config: Mapping[str, Any], severity: str, category: str) -> float:
    """The weight of one error: the most specific of severity/Category, severity/Top,
    Category, Top, severity; 0 when nothing matches."""
    weights = config["weights"]
    top = category.split("/", 1)[0]
    keys = [f"{severity}/{category}", f"{severity}/{top}", category, top, severity]
    for key in keys:
        if key in weights:
            return float(weights[key])
    return 0.0


def penalty(config: Mapping[str, Any], errors: Iterable[Mapping[str, Any]]) -> float:
    """Sum of error weights (rounded to 10 decimals, so 0.1 + 0.2 stays 0.3)."""
    return round(sum(error_weight(config, e["severity"], e["category"]) for e in errors), 10)


@register
class Mqm(TaskType):
    name = "mqm"
    label = "MQM error spans (with optional ESA score)"

    defaults: dict[str, Any] = {
        "typology": DEFAULT_TYPOLOGY,
        "severities": DEFAULT_SEVERITIES,
        "weights": None,  # None: the default table, restricted to the enabled severities
        "max_errors": 5,
        "whole_segment_categories": None,  # None: ["Non-translation"] when the typology has it, else []
        "allow_source_spans": True,
        "esa_score": False,
        "allow_overlap": False,
    }

    def parse_config(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(raw, Mapping):
            raise ConfigError("task_config", "must be an object")
        reject_unknown_keys(raw, set(self.defaults), "task_config")
        cfg = {**self.defaults, **raw}
        for key in ("allow_source_spans", "esa_score", "allow_overlap"):
            if not isinstance(cfg[key], bool):
                raise ConfigError(f"task_config.{key}", "must be true or false")
        typology = _typology(cfg["typology"])
        cats = categories(typology)
        cat_set, tops = set(cats), set(typology)

        severities = cfg["severities"]
        if (
            not isinstance(severities, list)
            or not severities
            or any(s not in SEVERITIES for s in severities)
            or len(set(severities)) != len(severities)
        ):
            raise ConfigError("task_config.severities", f"must be a non-empty list of distinct values from: {', '.join(SEVERITIES)}")

        weights = cfg["weights"]
        if weights is None:
            weights = {
                k: v for k, v in DEFAULT_WEIGHTS.items()
                if _weight_key_ok(k, severities, cat_set, tops)
            }
        if not isinstance(weights, Mapping):
            raise ConfigError("task_config.weights", 'must be an object such as {"major": 5, "minor": 1}')
        clean_weights: dict[str, float] = {}
        for key, value in weights.items():
            if not isinstance(key, str) or not _weight_key_ok(key, severities, cat_set, tops):
                raise ConfigError(
                    f"task_config.weights.{key}",
                    "unknown key; use a severity, severity/Category, or a Category of the typology",
                )
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"task_config.weights.{key}", "must be a finite number >= 0")
            clean_weights[key] = value
        for severity in severities:
            if severity not in clean_weights:
                raise ConfigError(f"task_config.weights.{severity}", "every enabled severity needs a weight")

        max_errors = cfg["max_errors"]
        if max_errors is not None and (not is_int(max_errors) or not 1 <= max_errors <= 1000):
            raise ConfigError("task_config.max_errors", "must be a whole number from 1 to 1000, or null for no limit")

        whole = cfg["whole_segment_categories"]
        if whole is None:
            whole = [c for c in ("Non-translation",) if c in cat_set]
        if not isinstance(whole, list) or len(set(map(str, whole))) != len(whole):
            raise ConfigError("task_config.whole_segment_categories", "must be a list of distinct categories")
        for i, cat in enumerate(whole):
            if cat not in cat_set:
                raise ConfigError(f"task_config.whole_segment_categories[{i}]", f"{cat!r} is not a category of the typology")

        cfg.update(typology=typology, severities=list(severities), weights=clean_weights, whole_segment_categories=list(whole))
        return cfg

    def unit_candidates(self, config: Mapping[str, Any], candidate_ids: Sequence[int]) -> list[tuple[int, ...]]:
        return [(cid,) for cid in candidate_ids]

    def describe(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return {**config, "categories": categories(config["typology"]), "offsets": "unicode code points"}

    def _error(self, config: Mapping[str, Any], unit: UnitContent, raw: Any, where: str, errors: dict[str, str]) -> dict[str, Any] | None:
        if not isinstance(raw, Mapping):
            errors[where] = "must be an object with start, end, side, category, severity, note"
            return None
        bad = len(errors)
        for key in sorted(set(raw) - ERROR_KEYS, key=str):
            errors[f"{where}.{key}"] = "unknown field"
        cats = categories(config["typology"])
        category = raw.get("category")
        if category not in cats:
            errors[f"{where}.category"] = (
                "this field is required" if category is None else f"{category!r} is not a category of this study"
            )
        severity = raw.get("severity")
        if severity not in config["severities"]:
            errors[f"{where}.severity"] = (
                "this field is required"
                if severity is None
                else f"{severity!r} is not a severity of this study; expected one of: {', '.join(config['severities'])}"
            )
        note = raw.get("note", "")
        if note is None:
            note = ""
        if not isinstance(note, str):
            errors[f"{where}.note"] = "must be text"
        elif len(note) > MAX_NOTE:
            errors[f"{where}.note"] = f"at most {MAX_NOTE} characters"
        side = raw.get("side", "target")
        start, end = raw.get("start"), raw.get("end")
        if category in config["whole_segment_categories"]:
            if side != "target":
                errors[f"{where}.side"] = f"{category} covers the whole segment; it takes no side"
            if start not in (None, 0) or end not in (None, 0) or isinstance(start, bool) or isinstance(end, bool):
                errors[f"{where}.start"] = f"{category} covers the whole segment; it takes no span (omit start and end)"
            start, end = 0, 0
        else:
            text = None
            if side not in SIDES:
                errors[f"{where}.side"] = 'must be "target" or "source"'
            elif side == "source" and not config["allow_source_spans"]:
                errors[f"{where}.side"] = "this study does not take spans in the source"
            elif side == "source" and not unit.source:
                errors[f"{where}.side"] = "this unit has no source text to mark"
            else:
                text = unit.source if side == "source" else unit.candidates[0].text
            if not is_int(start):
                errors[f"{where}.start"] = "this field is required" if start is None else "must be an integer"
            if not is_int(end):
                errors[f"{where}.end"] = "this field is required" if end is None else "must be an integer"
            if text is not None and is_int(start) and is_int(end):
                if not 0 <= start < len(text) or start >= end:
                    errors[f"{where}.start"] = f"must satisfy 0 <= start < end <= {len(text)} (code points of the {side})"
                elif end > len(text):
                    errors[f"{where}.end"] = f"past the end of the {side} ({len(text)} code points)"
        if len(errors) > bad:
            return None
        return {"start": start, "end": end, "side": side, "category": category, "severity": severity, "note": note}

    def validate_response(self, config: Mapping[str, Any], unit: UnitContent, response: Any) -> dict[str, Any]:
        if not isinstance(response, Mapping):
            raise ResponseError({"response": "must be an object"})
        if len(unit.candidates) != 1:
            raise ResponseError({"unit": "an mqm unit shows exactly one candidate"})
        known = {"errors", "no_error", "score"}
        errors: dict[str, str] = {k: "unknown field" for k in sorted(set(response) - known, key=str)}
        raw_errors = response.get("errors", [])
        if raw_errors is None:
            raw_errors = []
        no_error = response.get("no_error", False)
        if not isinstance(no_error, bool):
            errors["no_error"] = "must be true or false"
        clean: list[tuple[int, dict[str, Any]]] = []
        if not isinstance(raw_errors, list):
            errors["errors"] = "must be a list of error spans"
        else:
            limit = config["max_errors"]
            if limit is not None and len(raw_errors) > limit:
                errors["errors"] = f"at most {limit} errors per segment (got {len(raw_errors)})"
            for i, raw in enumerate(raw_errors):
                err = self._error(config, unit, raw, f"errors.{i}", errors)
                if err is not None:
                    clean.append((i, err))
            if no_error is True and raw_errors:
                errors["no_error"] = "cannot be true when errors are marked"
            elif no_error is False and not raw_errors:
                errors["no_error"] = "mark at least one error, or confirm there is none with no_error: true"
            if not config["allow_overlap"]:
                self._check_overlap(clean, errors)
        out: dict[str, Any] = {"errors": [e for _, e in clean], "no_error": no_error}
        score = response.get("score")
        if config["esa_score"]:
            if not is_int(score) or not 0 <= score <= 100:
                errors["score"] = "this field is required" if score is None else "must be an integer from 0 to 100"
            out["score"] = score
        elif score is not None:
            errors["score"] = "this study does not collect an overall score"
        if errors:
            raise ResponseError(errors)
        return out

    @staticmethod
    def _check_overlap(clean: list[tuple[int, dict[str, Any]]], errors: dict[str, str]) -> None:
        for side in SIDES:
            spans = sorted((e["start"], e["end"], i) for i, e in clean if e["side"] == side and e["end"] > e["start"])
            reach = None  # the span reaching furthest right so far: (end, start, index)
            for start, end, i in spans:
                if reach is not None and start < reach[0]:
                    first, second = sorted((reach[2], i))
                    errors.setdefault(
                        f"errors.{second}.start",
                        f"overlaps error {first} in the {side}; spans may not overlap in this study",
                    )
                if reach is None or end > reach[0]:
                    reach = (end, start, i)

    def records(self, config: Mapping[str, Any], candidate_ids: Sequence[int], response: Mapping[str, Any]) -> Records:
        (cid,) = candidate_ids
        total = penalty(config, response.get("errors") or [])
        scores = [Score(int(cid), "mqm", 0.0 - total if total else 0.0)]
        if config.get("esa_score") and response.get("score") is not None:
            scores.append(Score(int(cid), "esa", float(response["score"])))
        return Records(scores=tuple(scores))

    # Quality control -------------------------------------------------------------------

    def parse_gold(self, config: Mapping[str, Any], gold: Any, systems: Mapping[str, int]) -> dict[str, Any]:
        """Gold is a response itself ({"errors": [...], "no_error": bool}); the import
        validates it against the unit like any response."""
        if not isinstance(gold, Mapping) or "errors" not in gold:
            raise ConfigError("meta.gold", 'must be an MQM response: {"errors": [...], "no_error": true|false}')
        return dict(gold)

    def gold_passes(self, config: Mapping[str, Any], expected: Mapping[str, Any], response: Mapping[str, Any]) -> bool:
        """A clean gold segment must get no major (or worse) error; otherwise every expected
        major or critical error must be found: a span overlapping it on the same side, or the
        same category for a whole-segment error."""
        found = response.get("errors", [])
        if expected.get("no_error") or not expected.get("errors"):
            return all(e["severity"] not in ("major", "critical") for e in found)
        for want in expected["errors"]:
            if want["severity"] not in ("major", "critical"):
                continue
            whole = want["start"] == want["end"]
            if not any(
                (got["category"] == want["category"]) if whole else (
                    got.get("side", "target") == want.get("side", "target") and got["start"] < want["end"] and want["start"] < got["end"]
                )
                for got in found
            ):
                return False
        return True

    def attention_check(self, config: Mapping[str, Any], unit: UnitContent, rng) -> AttentionCheck | None:
        # Garble the middle third of the words: an annotator paying attention marks it major.
        target = unit.candidates[0]
        words = target.text.split(" ")
        if len(words) < 3:
            return None
        lo, hi = len(words) // 3, max(len(words) // 3 + 1, 2 * len(words) // 3)
        garbled = " ".join(w[::-1].upper() for w in rng.permutation(words[lo:hi]))
        before = " ".join(words[:lo]) + (" " if lo else "")
        text = before + garbled + (" " + " ".join(words[hi:]) if hi < len(words) else "")
        category = "Other" if "Other" in categories(config["typology"]) else categories(config["typology"])[0]
        span = {"start": len(before), "end": len(before) + len(garbled), "side": "target", "category": category, "severity": "major", "note": ""}
        return AttentionCheck(target.id, text, {"errors": [span], "no_error": False})
