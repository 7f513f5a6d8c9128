"""Forms of the researcher and join pages. They only parse what the browser sends (text,
JSON, files); the study spec, items and export options are validated by the services, whose
errors the views attach back to the field they name."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib.auth.forms import UserCreationForm

from annotation.spec import QUALITY_DEFAULTS, STATUSES
from annotation.task_types import all_task_types, get_task_type
from elicitation.strategies import all_strategies, get_strategy
from exports.formats import all_exporters, all_importers, all_judgment_importers


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=False)


def task_type_defaults() -> dict[str, dict]:
    """Each task type's config with every default filled in (shown in the form)."""
    return {name: get_task_type(name).parse_config({}) for name in sorted(all_task_types())}


def strategy_defaults() -> dict[str, dict]:
    return {name: get_strategy(name).parse_params({}) for name in sorted(all_strategies())}


class JSONTextField(forms.CharField):
    """A textarea holding JSON; an empty box means `empty`."""

    def __init__(self, *, empty: Any, expect: type = dict, **kwargs):
        self.empty, self.expect = empty, expect
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 9, "spellcheck": "false", "class": "mono"}))
        kwargs.setdefault("required", False)
        super().__init__(strip=False, **kwargs)

    def clean(self, value):
        text = super().clean(value)
        if not text or not text.strip():
            return self.empty
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
        if not isinstance(parsed, self.expect):
            raise forms.ValidationError("must be a JSON object, e.g. {}")
        return parsed


class StudyForm(forms.Form):
    """The study spec of DESIGN.md, one field per key."""

    slug = forms.CharField(max_length=100, help_text="Lowercase letters, digits and hyphens, e.g. summaries-2026-11.")
    name = forms.CharField(max_length=200, help_text="Shown to annotators.")
    task_type = forms.ChoiceField()
    task_config = JSONTextField(empty={}, label="Task config (JSON)", help_text="Defaults of the task type are shown; remove a key to keep its default.")
    instructions = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="Markdown, shown to annotators above every unit.",
    )
    redundancy = forms.IntegerField(initial=3, help_text="Judgments wanted per unit (1–100).")
    strategy = forms.ChoiceField(label="Elicitation strategy")
    strategy_params = JSONTextField(empty={}, label="Strategy params (JSON)")
    quality = JSONTextField(empty={}, label="Quality control (JSON)")
    status = forms.ChoiceField(choices=[(s, s) for s in STATUSES], initial="draft")

    # Where a spec error's dotted path lands: its first segment, except strategy.params.*.
    def field_for(self, path: str) -> str | None:
        if path.startswith("strategy.params") :
            return "strategy_params"
        head = path.split(".", 1)[0].split("[", 1)[0]
        return head if head in self.fields else None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        types = all_task_types()
        self.fields["task_type"].choices = [(n, f"{t.label} ({n})" if t.label else n) for n, t in sorted(types.items())]
        strategies = all_strategies()
        self.fields["strategy"].choices = [(n, f"{s.label}" if s.label else n) for n, s in sorted(strategies.items())]
        if not self.is_bound:
            first_type = "pairwise" if "pairwise" in types else next(iter(sorted(types)), "")
            first_strategy = "uniform" if "uniform" in strategies else next(iter(sorted(strategies)), "")
            self.initial.setdefault("task_type", first_type)
            self.initial.setdefault("strategy", first_strategy)
            if first_type:
                self.initial.setdefault("task_config", _pretty(get_task_type(first_type).parse_config({})))
            if first_strategy:
                self.initial.setdefault("strategy_params", _pretty(get_strategy(first_strategy).parse_params({})))
            self.initial.setdefault("quality", _pretty(QUALITY_DEFAULTS))

    def spec(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "slug": data["slug"].strip(),
            "name": data["name"],
            "task_type": data["task_type"],
            "task_config": data["task_config"],
            "instructions": data["instructions"],
            "redundancy": data["redundancy"],
            "strategy": {"name": data["strategy"], "params": data["strategy_params"]},
            "quality": data["quality"],
            "status": data["status"],
        }


class ItemUploadForm(forms.Form):
    file = forms.FileField(help_text="UTF-8 text (or gzipped, .gz, in the background); a bad line stops the whole upload.")
    kind = forms.ChoiceField(
        choices=[("items", "Items"), ("scores", "Judge scores (item_id, system, judge, score)"),
                 ("judgments", "Judgments made elsewhere (stored as annotations)")], initial="items", label="What",
        required=False,  # items when left out (scripts posting file and format only)
    )
    format = forms.ChoiceField(
        initial="jsonl",
        help_text="Judge scores come as csv or jsonl; judgments as pairwise-labels, pairwise-judgments, scores-long or mqm-tsv.",
    )
    background = forms.BooleanField(
        required=False, label="Import in the background",
        help_text="Large files always are; the page shows the progress and the result.",
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "id_upload_%s")  # several forms share the study page
        super().__init__(*args, **kwargs)
        formats = {**all_judgment_importers(), **all_importers()}
        self.fields["format"].choices = [(n, f.label or n) for n, f in sorted(formats.items())]

    def clean_kind(self) -> str:
        return self.cleaned_data.get("kind") or "items"


class ExportForm(forms.Form):
    format = forms.ChoiceField()
    options = JSONTextField(
        empty={},
        label="Options (JSON)",
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false", "class": "mono"}),
        help_text='e.g. {"aggregate": "majority"} for trl-preference.',
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "id_export_%s")
        super().__init__(*args, **kwargs)
        self.fields["format"].choices = [(n, f"{n} — {f.label}" if f.label else n) for n, f in sorted(all_exporters().items())]
        if "trl-preference" in all_exporters():
            self.initial.setdefault("format", "trl-preference")
        self.initial.setdefault("options", "{}")


class ResearcherAddForm(forms.Form):
    username = forms.CharField(max_length=150)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "id_researcher_%s")
        super().__init__(*args, **kwargs)


class SignUpForm(UserCreationForm):
    """A plain account: no permission, so it can annotate but not create studies."""

    class Meta(UserCreationForm.Meta):
        fields = ("username",)


class StrategyForm(forms.Form):
    """The study page's strategy picker: a strategy from the registry and its params. The
    service (study_update) checks the params; a strategy may change while the study is live."""

    strategy = forms.ChoiceField(label="Strategy")
    strategy_params = JSONTextField(
        empty={},
        label="Params (JSON)",
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false", "class": "mono"}),
        help_text="Remove a key to keep its default.",
    )

    def __init__(self, *args, study=None, **kwargs):
        kwargs.setdefault("auto_id", "id_pick_%s")  # several forms share the study page
        super().__init__(*args, **kwargs)
        self.fields["strategy"].choices = [(n, s.label or n) for n, s in sorted(all_strategies().items())]
        if study is not None and not self.is_bound:
            self.initial.setdefault("strategy", study.strategy)
            self.initial.setdefault("strategy_params", _pretty(study.strategy_params))

    def field_for(self, path: str) -> str | None:
        if path.startswith("strategy.params"):
            return "strategy_params"
        if path.startswith("strategy"):
            return "strategy"
        return None

    def changes(self) -> dict[str, Any]:
        return {"strategy": {"name": self.cleaned_data["strategy"], "params": self.cleaned_data["strategy_params"]}}
