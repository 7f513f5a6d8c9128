"""The dataset card (README.md) written beside every export. Pure: no Django.

Its YAML header declares the data files, so `datasets.load_dataset(folder)` loads them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from exports.formats.base import ExportSummary


def _yaml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid YAML scalar


def render_card(spec: Mapping[str, Any], format_name: str, summary: ExportSummary, stats: Mapping[str, Any]) -> str:
    lines = ["---", "configs:"]
    for index, schema in enumerate(summary.files):
        config = "default" if index == 0 else schema.path.rsplit(".", 1)[0].replace("/", "_")
        lines += [f"- config_name: {config}", "  data_files:", "  - split: train", f"    path: {_yaml_str(schema.path)}"]
    lines += ["tags:", "- trenchcoat", f"- {format_name}", "---", ""]
    strategy = spec.get("strategy", {})
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
        f"- quality settings: `{json.dumps(spec.get('quality', {}), sort_keys=True)}`",
        "",
        "### Instructions shown to annotators",
        "",
    ]
    instructions = (spec.get("instructions") or "(none)").splitlines() or ["(none)"]
    lines += [f"> {line}" for line in instructions]
    lines += ["", "## Counts", ""]
    lines += [f"- {key.replace('_', ' ')}: {value}" for key, value in sorted(summary.counts.items())]
    for key, value in sorted(stats.items()):
        lines.append(f"- {key.replace('_', ' ')}: {value}")
    for note in summary.notes:
        lines += ["", note]
    lines += ["", "## Files", ""]
    for schema in summary.files:
        lines += [f"### `{schema.path}`", "", "| column | meaning |", "|---|---|"]
        lines += [f"| `{column}` | {meaning} |" for column, meaning in schema.columns.items()]
        lines.append("")
    return "\n".join(lines) + "\n"
