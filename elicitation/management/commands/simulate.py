"""Simulated annotators through the real selection and submission code, on the configured
database: how many judgments each strategy needs to order the systems.

    python manage.py simulate --strategies uniform,active-bt --seeds 3 --judgments 1500

Each (strategy, seed) gets its own live study of simulated items (latent Bradley–Terry
strengths of `--systems` systems `--gap` logits apart, per-item noise, candidate lengths and
judge scores) and `--annotators` annotators (a share of them answering at random, all with
a position bias and ties), who take units from `assignment_next_for_annotator` and answer
through `annotation_submit`. The studies are deleted afterwards unless --keep. For the
benchmark over many seeds, `make bench-elicitation` runs the same strategies with an
in-memory pool instead (bench/bench_elicitation.py).
"""

import json

from django.core.management.base import BaseCommand, CommandError

from elicitation.simulation import WorldConfig, aggregate, markdown_table, summarize
from elicitation.simulation_db import simulation_run_db
from elicitation.strategies import all_strategies


class Command(BaseCommand):
    help = "Drive simulated annotators through the real assignment and submission services and report per strategy."

    def add_arguments(self, parser):
        parser.add_argument("--strategies", default="uniform,active-bt", help="comma-separated registered names")
        parser.add_argument("--params", default="{}", help='JSON: {"active-bt": {"epsilon": 0.2}}')
        parser.add_argument("--seeds", type=int, default=2)
        parser.add_argument("--judgments", type=int, default=1000, help="judgments per run")
        parser.add_argument("--checkpoint", type=int, default=50, help="judgments between two evaluations")
        parser.add_argument("--systems", type=int, default=10)
        parser.add_argument("--gap", type=float, default=0.2, help="logits between adjacent systems")
        parser.add_argument("--items", type=int, default=60)
        parser.add_argument("--item-sd", type=float, default=0.5)
        parser.add_argument("--annotators", type=int, default=20)
        parser.add_argument("--spammers", type=float, default=0.15, help="share answering at random")
        parser.add_argument("--position-bias", type=float, default=0.3)
        parser.add_argument("--tie-nu", type=float, default=0.3)
        parser.add_argument("--redundancy", type=int, default=3)
        parser.add_argument("--keep", action="store_true", help="keep the simulated studies")
        parser.add_argument("--json", dest="json_path", help="also write the results here")

    def handle(self, *args, **opts):
        names = [n.strip() for n in opts["strategies"].split(",") if n.strip()]
        unknown = sorted(set(names) - set(all_strategies()))
        if unknown:
            raise CommandError(f"unknown strategy {unknown[0]!r}; registered: {', '.join(sorted(all_strategies()))}")
        try:
            params = json.loads(opts["params"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"--params is not JSON: {exc}") from None
        config = WorldConfig(
            n_systems=opts["systems"],
            gap=opts["gap"],
            n_items=opts["items"],
            item_sd=opts["item_sd"],
            n_annotators=opts["annotators"],
            spammer_share=opts["spammers"],
            position_bias=opts["position_bias"],
            tie_nu=opts["tie_nu"],
            redundancy=opts["redundancy"],
        )
        runs = simulation_run_db(
            names,
            range(opts["seeds"]),
            config,
            budget=opts["judgments"],
            checkpoint_every=opts["checkpoint"],
            params=params,
            keep=opts["keep"],
        )
        rows = [{"strategy": name, "seed": seed, **summarize(run)} for name, seed, run in runs]
        agg = aggregate(rows, opts["judgments"])
        self.stdout.write(
            f"{config.n_systems} systems {config.gap} logits apart, {config.n_items} items, "
            f"{config.n_annotators} annotators ({config.spammer_share:.0%} random), {opts['seeds']} seed(s), "
            f"{opts['judgments']} judgments per run; mean judgments to each milestone (×ratio to uniform):\n"
        )
        self.stdout.write(markdown_table(agg))
        if opts["json_path"]:
            with open(opts["json_path"], "w", encoding="utf-8") as fh:
                json.dump({"config": config.__dict__, "runs": rows, "aggregate": agg}, fh, indent=2, default=str)
