"""The dataset card (README.md) written beside every export. Pure: no Django.

Its YAML header declares the data files (one configuration per table, one entry per split),
so `datasets.load_dataset(folder)` loads them. The body states the protocol, the export's
options, counts, agreement and bias figures, and the schema of each file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from exports.formats.base import ExportSummary, FileSchema

COUNT_MEANINGS = {
    "qc_excluded_annotator_judgments": "left out: quality control excluded their annotator "
    "(pass rate on checks under quality.min_pass_rate; option include_excluded_annotators)",
    "excluded_annotator_judgments": "left out: their annotator is named in option exclude_annotators",
    "speeder_judgments": "left out as faster than quality.min_seconds_per_unit (option exclude_speeders)",
    "qc_judgments": "judgments of gold, attention-check and swapped-repeat units, left out (option include_qc_units)",
    "ties": "counted, never made into pairs",
    "both_bad": "counted, never made into pairs",
    "no_majority": "pairs whose votes (or scores) gave no winner",
    "below_min_agreement": "pairs left out for agreement under option min_agreement",
}


def _yaml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid YAML scalar


def _table_of(schema: FileSchema) -> str:
    """`x/train.jsonl` and `x/test.jsonl` are splits of table `x`; `x.jsonl` is table `x`."""
    stem = schema.path.rsplit(".", 1)[0]
    folder, _, name = stem.rpartition("/")
    return folder if folder and name == schema.split else stem


def configs(files: list[FileSchema]) -> dict[str, list[FileSchema]]:
    """Files grouped by dataset configuration, in order: a file's own `config`, else one
    configuration per table, the first one "default"."""
    grouped: dict[str, list[FileSchema]] = {}
    tables: dict[str, str] = {}
    for schema in files:
        if schema.config:
            name = schema.config
        else:
            table = _table_of(schema)
            name = tables.setdefault(table, "default" if not tables else table.replace("/", "_"))
        grouped.setdefault(name, []).append(schema)
    return grouped


def render_card(spec: Mapping[str, Any], format_name: str, summary: ExportSummary, stats: Mapping[str, Any],
                options: Mapping[str, Any] | None = None) -> str:
    lines = ["---", "configs:"]
    for name, files in configs([f for f in summary.files if f.loadable]).items():
        lines += [f"- config_name: {name}", "  data_files:"]
        for schema in files:
            lines += [f"  - split: {schema.split}", f"    path: {_yaml_str(schema.path)}"]
    lines += ["tags:", "- trenchcoat", f"- {format_name}", "---", ""]
    strategy = spec.get("strategy", {})
    quality = spec.get("quality", {})
    lines += [
        f"# {spec.get('name', spec.get('slug'))}",
        "",
        f"Human judgments collected with Trenchcoat, exported as `{format_name}`.",
        "",
        "## Protocol",
        "",
        f"- study: `{spec.get('slug')}`",
        f"- task type: `{spec.get('task_type')}`, config: `{json.dumps(spec.get('task_config', {}), sort_keys=True)}`",
        f"- redundancy (judgments wanted per unit): {spec.get('redundancy')}",
        f"- elicitation strategy: `{strategy.get('name')}` with params `{json.dumps(strategy.get('params', {}), sort_keys=True)}`",
        f"- quality settings: `{json.dumps(quality, sort_keys=True)}`",
        (
            f"  (gold units at rate {quality.get('gold_rate', 0)}, attention checks at rate {quality.get('attention_rate', 0)}; "
            f"annotators excluded below a pass rate of {quality.get('min_pass_rate', 0)} after {quality.get('min_checks', 3)} checks; "
            f"judgments under {quality.get('min_seconds_per_unit', 0)} s per unit count as speeding)"
        ),
        "",
        "### Instructions shown to annotators",
        "",
    ]
    instructions = (spec.get("instructions") or "(none)").splitlines() or ["(none)"]
    lines += [f"> {line}" if line.strip() else ">" for line in instructions]
    if options is not None:
        lines += ["", "## Export options", "", f"`{json.dumps(dict(options), sort_keys=True)}`"]
    lines += ["", "## Counts", ""]
    for key, value in sorted(summary.counts.items()):
        meaning = COUNT_MEANINGS.get(key)
        lines.append(f"- {key.replace('_', ' ')}: {value}" + (f" ({meaning})" if meaning else ""))
    if stats:
        lines += ["", "## Agreement and bias", "", "Over the judgments exported (after the exclusions above).", ""]
        lines += [f"- {key}: {value}" for key, value in stats.items()]
    for note in summary.notes:
        lines += ["", note]
    lines += ["", "## Files", ""]
    for name, files in configs([f for f in summary.files if f.loadable]).items():
        for schema in files:
            rows = f", {schema.rows} rows" if schema.rows is not None else ""
            lines += [f"### `{schema.path}`", "", f"Configuration `{name}`, split `{schema.split}`{rows}.", ""]
            lines += ["| column | meaning |", "|---|---|"]
            lines += [f"| `{column}` | {meaning} |" for column, meaning in schema.columns.items()]
            lines.append("")
    for schema in summary.files:
        if not schema.loadable:
            lines += [f"### `{schema.path}`", "", f"In the layout of `{format_name}`, for its own tools (`datasets` does not read it).", ""]
            lines += ["| column | meaning |", "|---|---|"]
            lines += [f"| `{column}` | {meaning} |" for column, meaning in schema.columns.items()]
            lines.append("")
    return "\n".join(lines) + "\n"
