"""Simulated annotators through the real services and the configured database.

The `simulate` management command calls `simulation_run_db`: for each strategy and seed it
creates a study of the simulated world's items, annotators who join it, and then asks
`assignment_next_for_annotator` for units and answers them with `annotation_submit`, as
the browser would. Refits run the way the platform runs them (queued by the next-unit
request after its transaction commits); Celery runs in-process for the duration, so a
simulation does not depend on a worker being up. Metrics come from the judgments stored in
the database, read with the same selector the refits use.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.db import transaction

from annotation.models import Annotation, Candidate, Study, StudyMembership, Unit
from annotation.services import annotation_submit, items_import, study_create
from elicitation.model_state import study_judgments
from elicitation.services import assignment_next_for_annotator
from elicitation.simulation import (
    Run,
    World,
    WorldConfig,
    estimate,
    estimator_of,
    evaluate,
    make_world,
    population_truth,
    report_fit,
    respond,
)
from elicitation.state import A_WINS, B_WINS
from elicitation.strategies import get_strategy


@contextmanager
def _celery_in_process():
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = before


def world_items(world: World) -> list[str]:
    """The world's items as item JSONL lines (texts of the simulated lengths)."""
    lines = []
    for i in range(world.config.n_items):
        lines.append(
            json.dumps(
                {
                    "id": f"sim-{i}",
                    "prompt": f"Simulated prompt {i}",
                    "candidates": [
                        {"system": s, "text": ("lorem ipsum " * 200)[: int(world.lengths[i, k])], "judges": world.judges[i][k]}
                        for k, s in enumerate(world.systems)
                    ],
                }
            )
        )
    return lines


def _study(owner, world: World, strategy: str, params: dict[str, Any], tag: str) -> Study:
    study = study_create(
        owner=owner,
        spec={
            "slug": f"sim-{strategy}-{tag}",
            "name": f"Simulation {strategy} {tag}",
            "task_type": "pairwise",
            "task_config": {"allow_tie": True},
            "redundancy": world.config.redundancy,
            "strategy": {"name": strategy, "params": params},
            "status": "live",
        },
    )
    items_import(study=study, lines=world_items(world))
    return study


def run_db(
    strategy: str,
    world: World,
    rng: np.random.Generator,
    *,
    params: dict[str, Any] | None = None,
    budget: int = 500,
    checkpoint_every: int = 50,
    owner=None,
) -> tuple[Run, Study]:
    """Drive `budget` judgments of simulated annotators through the real services."""
    users = get_user_model()
    tag = uuid.uuid4().hex[:8]
    owner = owner or users.objects.create_user(username=f"sim-owner-{tag}")
    params = get_strategy(strategy).parse_params(dict(params or {}))
    study = _study(owner, world, strategy, params, tag)
    annotators = []
    for k in range(world.config.n_annotators):
        user = users.objects.create_user(username=f"sim-{tag}-{k}")
        StudyMembership.objects.create(study=study, user=user, role=StudyMembership.Role.ANNOTATOR)
        annotators.append(user)
    where = {
        cid: (int(ext.split("-")[1]), world.systems.index(system))
        for cid, ext, system in Candidate.objects.filter(item__study=study).values_list("id", "item__external_id", "system")
    }
    kind = estimator_of(strategy, params)
    truth, truth_position = population_truth(world)
    run = Run(strategy, estimator=kind, truth_position=truth_position)
    exhausted: set[int] = set()
    with _celery_in_process():
        for t in range(1, budget + 1):
            assignment = None
            for k in rng.permutation(len(annotators)):
                if int(k) in exhausted:
                    continue
                assignment = assignment_next_for_annotator(study=study, user=annotators[k])
                if assignment is not None:
                    break
                exhausted.add(int(k))
            if assignment is None:
                break
            cand_a, cand_b = sorted(assignment.unit.candidate_ids)
            (item, a), (_, b) = where[cand_a], where[cand_b]
            a_first = assignment.display_order[0] == cand_a
            outcome = respond(world, int(k), item, a, b, a_first, rng)
            choice = cand_a if outcome == A_WINS else cand_b if outcome == B_WINS else "tie"
            annotation_submit(
                assignment_id=assignment.id,
                user=annotators[k],
                response={"choice": choice},
                idempotency_key=f"sim-{t}",
                duration_ms=int(rng.integers(2000, 20000)),
            )
            run.propensities.append(assignment.propensity)
            run.judgments = t
            if t % checkpoint_every == 0:
                judgments = study_judgments(study)
                ranking = estimate(kind, judgments)
                report = report_fit(strategy, judgments, _propensities(study, len(judgments)))
                run.checkpoints.append(evaluate(ranking, report, world, truth, t))
    return run, study


def simulation_run_db(
    strategies: Sequence[str],
    seeds: Sequence[int],
    config: WorldConfig,
    *,
    budget: int,
    checkpoint_every: int,
    params: dict[str, dict[str, Any]] | None = None,
    keep: bool = False,
) -> list[tuple[str, int, Run]]:
    """Every strategy on every seed's world; the studies are deleted afterwards unless `keep`."""
    out = []
    for seed in seeds:
        world = make_world(config, np.random.default_rng(seed))
        for name in strategies:
            run, study = run_db(
                name,
                world,
                np.random.default_rng(10_000 + seed),
                params=(params or {}).get(name),
                budget=budget,
                checkpoint_every=checkpoint_every,
            )
            out.append((name, seed, run))
            if not keep:
                with transaction.atomic():
                    members = list(study.memberships.values_list("user_id", flat=True))
                    owner_id = study.owner_id
                    study.delete()
                    get_user_model().objects.filter(id__in=[*members, owner_id], username__startswith="sim-").delete()
    return out


def _propensities(study: Study, n: int) -> list[float]:
    """The logged propensity of each judgment `study_judgments` returns (same rows, same
    order: one pairwise choice per current annotation of a regular unit, excluded
    annotators left out)."""
    excluded = StudyMembership.objects.filter(study=study, excluded=True).values("user_id")
    values = list(
        Annotation.objects.filter(study=study, unit__kind=Unit.Kind.REGULAR, superseded_by__isnull=True)
        .exclude(annotator_id__in=excluded)
        .order_by("id")
        .values_list("propensity", flat=True)
    )
    if len(values) != n:
        raise AssertionError(f"{len(values)} propensities for {n} judgments")
    return values
