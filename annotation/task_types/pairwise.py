"""Pairwise preference: A vs B, optionally tie / both bad, a strength scale, a rationale,
and per-aspect choices. Responses name candidate ids, never "left"/"right"."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

from annotation.task_types.base import (
    AttentionCheck,
    ConfigError,
    PairOutcome,
    Records,
    ResponseError,
    TaskType,
    UnitContent,
    degrade_text,
    reject_unknown_keys,
)
from annotation.task_types.registry import register

TIE = "tie"
BOTH_BAD = "both_bad"
RATIONALE_MODES = ("off", "optional", "required")
MAX_RATIONALE = 5000


@register
class Pairwise(TaskType):
    name = "pairwise"
    label = "Pairwise preference (A vs B)"

    defaults = {
        "allow_tie": True,
        "allow_both_bad": False,
        "strength_scale": None,
        "aspects": [],
        "rationale": "off",
        "randomize_order": True,
    }

    def parse_config(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(raw, Mapping):
            raise ConfigError("task_config", "must be an object")
        reject_unknown_keys(raw, set(self.defaults), "task_config")
        cfg = {**self.defaults, **raw}
        for key in ("allow_tie", "allow_both_bad", "randomize_order"):
            if not isinstance(cfg[key], bool):
                raise ConfigError(f"task_config.{key}", "must be true or false")
        scale = cfg["strength_scale"]
        if scale is not None:
            if (
                not isinstance(scale, list)
                or len(scale) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in scale)
                or scale[0] != -scale[1]
                or not 1 <= scale[1] <= 10
            ):
                raise ConfigError(
                    "task_config.strength_scale",
                    "must be a symmetric pair of integers such as [-3, 3] (at most [-10, 10])",
                )
        aspects = cfg["aspects"]
        if not isinstance(aspects, list) or not all(isinstance(a, str) and a.strip() for a in aspects):
            raise ConfigError("task_config.aspects", "must be a list of non-empty names")
        if len(set(aspects)) != len(aspects):
            raise ConfigError("task_config.aspects", "names must be unique")
        if cfg["rationale"] not in RATIONALE_MODES:
            raise ConfigError("task_config.rationale", f"must be one of {', '.join(RATIONALE_MODES)}")
        return cfg

    def unit_candidates(self, config: Mapping[str, Any], candidate_ids: Sequence[int]) -> list[tuple[int, ...]]:
        return [tuple(pair) for pair in combinations(candidate_ids, 2)]

    def allowed_choices(self, config: Mapping[str, Any], unit: UnitContent) -> list[Any]:
        choices: list[Any] = [c.id for c in unit.candidates]
        if config["allow_tie"]:
            choices.append(TIE)
        if config["allow_both_bad"]:
            choices.append(BOTH_BAD)
        return choices

    def _choice(self, value: Any, allowed: list[Any], field: str, errors: dict[str, str]) -> Any:
        if value in allowed and not isinstance(value, bool):
            return value
        shown = ", ".join(str(c) for c in allowed)
        errors[field] = f"{value!r} is not a valid choice; expected one of: {shown}"
        return None

    def validate_response(self, config: Mapping[str, Any], unit: UnitContent, response: Any) -> dict[str, Any]:
        if not isinstance(response, Mapping):
            raise ResponseError({"response": "must be an object"})
        known = {"choice", "strength", "rationale", "aspects"}
        errors: dict[str, str] = {k: "unknown field" for k in sorted(set(response) - known)}
        allowed = self.allowed_choices(config, unit)
        if "choice" not in response:
            errors["choice"] = "this field is required"
            choice = None
        else:
            choice = self._choice(response["choice"], allowed, "choice", errors)
        out: dict[str, Any] = {"choice": choice}

        scale = config["strength_scale"]
        if scale is not None and choice not in (None, TIE, BOTH_BAD):
            strength = response.get("strength")
            if isinstance(strength, bool) or not isinstance(strength, int) or not 1 <= strength <= scale[1]:
                errors["strength"] = f"must be an integer from 1 to {scale[1]} for a preference"
            out["strength"] = strength
        elif "strength" in response and response["strength"] not in (None, 0):
            errors["strength"] = "only a preference for one candidate takes a strength"

        rationale = response.get("rationale", "")
        if not isinstance(rationale, str):
            errors["rationale"] = "must be text"
        elif config["rationale"] == "off" and rationale:
            errors["rationale"] = "this study does not collect rationales"
        elif config["rationale"] == "required" and not rationale.strip():
            errors["rationale"] = "a rationale is required"
        elif len(rationale) > MAX_RATIONALE:
            errors["rationale"] = f"at most {MAX_RATIONALE} characters"
        else:
            out["rationale"] = rationale

        aspects = response.get("aspects", {})
        if not isinstance(aspects, Mapping):
            errors["aspects"] = "must be an object mapping aspect to choice"
        else:
            for name in sorted(set(aspects) - set(config["aspects"])):
                errors[f"aspects.{name}"] = "not an aspect of this study"
            out_aspects = {}
            for name in config["aspects"]:
                if name not in aspects:
                    errors[f"aspects.{name}"] = "this aspect needs a choice"
                else:
                    out_aspects[name] = self._choice(aspects[name], allowed, f"aspects.{name}", errors)
            if config["aspects"]:
                out["aspects"] = out_aspects
        if errors:
            raise ResponseError(errors)
        return out

    @staticmethod
    def _outcome(a: int, b: int, choice: Any, strength: int, aspect: str) -> PairOutcome:
        if choice in (TIE, BOTH_BAD):
            return PairOutcome(a, b, choice, 1, aspect)
        return PairOutcome(a, b, "a" if choice == a else "b", strength, aspect)

    def records(self, config: Mapping[str, Any], candidate_ids: Sequence[int], response: Mapping[str, Any]) -> Records:
        a, b = sorted(candidate_ids)
        pairs = [self._outcome(a, b, response["choice"], int(response.get("strength") or 1), "")]
        for aspect, choice in (response.get("aspects") or {}).items():
            pairs.append(self._outcome(a, b, choice, 1, aspect))
        return Records(pairs=tuple(pairs))

    def parse_gold(self, config: Mapping[str, Any], gold: Any, systems: Mapping[str, int]) -> dict[str, Any]:
        """Gold for a pair: {"choice": "<system name>" | "tie" | "both_bad"}; imported
        judgments may add "strength" and "aspects" ({aspect: choice}) in the same terms."""
        if not isinstance(gold, Mapping) or "choice" not in gold or set(gold) - {"choice", "strength", "aspects"}:
            raise ConfigError("meta.gold", 'must be {"choice": "<system>" | "tie" | "both_bad"}')

        def named(choice: Any, where: str) -> Any:
            if choice in (TIE, BOTH_BAD):
                return choice
            if not isinstance(choice, str) or choice not in systems:
                raise ConfigError(where, f"{choice!r} is not a system of this item")
            return systems[choice]

        out: dict[str, Any] = {"choice": named(gold["choice"], "meta.gold.choice")}
        # Records (and exports) give every outcome a strength, 1 without a scale and for ties:
        # then it says nothing and is left out.
        if "strength" in gold and not (gold["strength"] == 1 and (config.get("strength_scale") is None or out["choice"] in (TIE, BOTH_BAD))):
            out["strength"] = gold["strength"]
        if "aspects" in gold:
            if not isinstance(gold["aspects"], Mapping):
                raise ConfigError("meta.gold.aspects", "must map aspect to choice")
            out["aspects"] = {name: named(choice, f"meta.gold.aspects.{name}") for name, choice in gold["aspects"].items()}
        return out

    def gold_passes(self, config: Mapping[str, Any], expected: Mapping[str, Any], response: Mapping[str, Any]) -> bool:
        return response.get("choice") == expected.get("choice")

    def attention_check(self, config: Mapping[str, Any], unit: UnitContent, rng) -> AttentionCheck | None:
        # Keep one real candidate; the other becomes a garbled copy of it: the real one must win.
        keep, replace = unit.candidates[0], unit.candidates[1]
        return AttentionCheck(replace.id, degrade_text(keep.text, rng), {"choice": keep.id})
