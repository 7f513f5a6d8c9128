"""The study report: progress, quality, agreement, ranking, bias, judge meta-evaluation,
cross-elicitation and strategies of one study, as one JSON-ready dict (the API, the
`report` command and the dashboard read the same document).

A selector: it reads the study with a fixed number of queries (memberships, items,
candidates, units, and the annotations streamed as value tuples, never model instances),
turns them into numpy arrays, and leaves every statistic to `prefstats`. Everything here
is glue: which rows go in, and how the numbers come out.

Conventions of the document: every figure carries its `n`; intervals are 95% percentile
bootstrap intervals (`low`, `high`) from a generator seeded with the study id, so the same
data give the same report, except the Bradley–Terry scores and the length-controlled fit,
whose intervals are cluster-robust (CV3 sandwich by item and annotator, t critical values;
each block's `interval` says which), since those stay honest for actively sampled data; NaN becomes null. Gold and attention units only count in
`quality`; excluded annotators are left out of agreement, ranking, bias and judges unless
`include_excluded`. Judgments are weighted by 1/propensity where a strategy other than
uniform, balanced or import chose the unit (and by 1 otherwise).
"""

from __future__ import annotations

import hashlib
import math
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Count, F, Max, Q, Sum
from django.db.models.functions import Length

import prefstats as ps
from annotation.errors import Invalid
from annotation.models import Annotation, Candidate, Item, Study, StudyMembership, Unit
from annotation.quality import ATTENTION_SYSTEM
from annotation.task_types import get_task_type
from annotation.task_types.mqm import error_weight
from prefstats import metaeval as me

LEVEL = 0.95
UNWEIGHTED_STRATEGIES = frozenset({"uniform", "balanced", "import"})
MIN_KAPPA_OVERLAP = 20  # shared units before a pair of annotators gets a Cohen's kappa
FULL_BOOT = 200
FULL_BOOT_UP_TO = 5_000  # judgments; above this the bootstrap shrinks in proportion (to at least 50)
KIND = {Unit.Kind.REGULAR: 0, Unit.Kind.GOLD: 1, Unit.Kind.ATTENTION: 2, Unit.Kind.REPEAT: 3}
PAIR_CODE = {"tie": 0, "both_bad": 0, "a": 1, "b": 2}  # prefstats outcome codes, from a's side


# ---------------------------------------------------------------------------------------
# Reading: a bounded number of queries, value tuples only


@dataclass
class _Data:
    study: Study
    task_type: str
    config: dict
    names: np.ndarray  # annotator code -> username
    excluded: np.ndarray  # annotator code -> bool
    members: dict[int, tuple]  # annotator code -> (role, qc_passed, qc_failed, excluded, reason)
    # one row per judgment (latest revision)
    j_unit: np.ndarray
    j_item: np.ndarray
    j_ann: np.ndarray
    j_kind: np.ndarray  # 0 regular, 1 gold, 2 attention, 3 swapped repeat
    j_strategy: np.ndarray
    j_prop: np.ndarray
    j_time: np.ndarray  # epoch seconds
    j_dur: np.ndarray  # ms, NaN when unknown
    j_qc: np.ndarray  # 1 passed, 0 failed, NaN not a check
    # candidates, sorted by id
    c_id: np.ndarray
    c_item: np.ndarray
    c_sys: np.ndarray  # system code, -1 for attention-check copies
    c_len: np.ndarray
    c_judges: list[dict]
    judge_system: dict[str, dict[str, float]]  # judge -> {system: score}, imported at system level
    systems: np.ndarray
    item_ext: dict[int, str]
    units: dict[int, tuple]  # id -> (kind, candidate_ids, n_done, n_taken)
    # pairwise records (regular units): one row per PairOutcome
    p_j: np.ndarray
    p_a: np.ndarray  # candidate row (index into c_*), a < b by id
    p_b: np.ndarray
    p_out: np.ndarray  # 0 tie (or both bad), 1 a preferred, 2 b preferred
    p_bad: np.ndarray  # "both bad"
    p_aspect: np.ndarray
    p_first: np.ndarray  # candidate row shown first
    p_second: np.ndarray
    # swapped repeats (pairwise): one row per repeat judgment's main outcome, as p_*
    r_j: np.ndarray
    r_a: np.ndarray
    r_b: np.ndarray
    r_out: np.ndarray
    r_first: np.ndarray
    # score records (regular units): one row per Score
    s_j: np.ndarray
    s_c: np.ndarray  # candidate row
    s_aspect: np.ndarray
    s_score: np.ndarray
    # MQM error spans (regular units)
    e_j: np.ndarray
    e_side: np.ndarray  # 0 target, 1 source
    e_start: np.ndarray
    e_end: np.ndarray
    e_weight: np.ndarray


def _epoch(value) -> float:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _load(study: Study) -> _Data:
    task = get_task_type(study.task_type)
    config = study.task_config
    members_rows = list(
        StudyMembership.objects.filter(study=study)
        .order_by("user_id")
        .values_list("user_id", "user__username", "role", "qc_passed", "qc_failed", "excluded", "excluded_reason", "platform", "worker_id")
    )
    code_of = {row[0]: i for i, row in enumerate(members_rows)}
    # Raters of imported judgments keep their original names ("annotator1"), as in exports,
    # unless that name is taken by another annotator of the study.
    usernames = {row[1] for row in members_rows}
    names = [row[8] if row[7] == "import" and row[8] and row[8] not in usernames else row[1] for row in members_rows]
    if len(set(names)) < len(names):
        names = [row[1] for row in members_rows]
    members = {i: row[2:7] for i, row in enumerate(members_rows)}
    item_ext = dict(Item.objects.filter(study=study).values_list("id", "external_id"))
    cands = list(
        Candidate.objects.filter(item__study=study)
        .annotate(n_chars=Length("text"))
        .order_by("id")
        .values_list("id", "item_id", "system", "n_chars", "judges")
    )
    units = {
        uid: (kind, cids, n_done, n_taken)
        for uid, kind, cids, n_done, n_taken in Unit.objects.filter(study=study).values_list(
            "id", "kind", "candidate_ids", "n_done", "n_taken"
        )
    }
    c_id = np.array([c[0] for c in cands], dtype=np.int64)
    row_of = {cid: i for i, cid in enumerate(c_id.tolist())}
    system_names = sorted({c[2] for c in cands if c[2] != ATTENTION_SYSTEM})
    sys_code = {s: i for i, s in enumerate(system_names)}

    j_cols: list[list] = [[] for _ in range(10)]
    p_cols: list[list] = [[] for _ in range(8)]
    r_cols: list[list] = [[] for _ in range(5)]
    s_cols: list[list] = [[] for _ in range(4)]
    e_cols: list[list] = [[] for _ in range(5)]
    missing: dict[int, int] = {}
    mqm = study.task_type == "mqm"
    rows = (
        Annotation.objects.filter(study=study, superseded_by__isnull=True)
        .order_by("id")
        .values_list("unit_id", "item_id", "annotator_id", "response", "display_order", "strategy", "propensity",
                     "submitted_at", "duration_ms", "qc_passed")
        .iterator(chunk_size=5000)
    )
    records_of = task.records
    for unit_id, item_id, user_id, response, order, strategy, propensity, submitted, duration, qc in rows:
        j = len(j_cols[0])
        code = code_of.get(user_id)
        if code is None:
            code = code_of[user_id] = len(names)
            names.append(None)
            members[code] = ("", 0, 0, False, "")
            missing[user_id] = code
        kind, cand_ids = units[unit_id][0], units[unit_id][1]
        for col, value in zip(
            j_cols,
            (unit_id, item_id, code, KIND.get(kind, 0), strategy, propensity, _epoch(submitted),
             math.nan if duration is None else duration, math.nan if qc is None else float(qc), 0),
            strict=True,
        ):
            col.append(value)
        if kind == Unit.Kind.REPEAT:
            for p in records_of(config, cand_ids, response).pairs:
                if p.aspect == "":
                    for col, value in zip(r_cols, (j, row_of[p.a], row_of[p.b], PAIR_CODE[p.outcome], row_of[order[0]]), strict=True):
                        col.append(value)
            continue
        if kind != Unit.Kind.REGULAR:
            continue
        records = records_of(config, cand_ids, response)
        for p in records.pairs:
            first = row_of[order[0]]
            second = row_of[order[1]] if len(order) > 1 else first
            for col, value in zip(
                p_cols,
                (j, row_of[p.a], row_of[p.b], PAIR_CODE[p.outcome], p.outcome == "both_bad", p.aspect, first, second),
                strict=True,
            ):
                col.append(value)
        for s in records.scores:
            s_cols[0].append(j)
            s_cols[1].append(row_of[s.candidate_id])
            s_cols[2].append(s.aspect)
            s_cols[3].append(s.score)
        if mqm:
            for e in response.get("errors") or []:
                for col, value in zip(
                    e_cols,
                    (j, 1 if e.get("side") == "source" else 0, e.get("start", 0), e.get("end", 0),
                     error_weight(config, e["severity"], e["category"])),
                    strict=True,
                ):
                    col.append(value)
    if missing:  # judgments by users without a membership (e.g. removed later)
        for uid, username in get_user_model().objects.filter(id__in=list(missing)).values_list("id", "username"):
            names[missing[uid]] = username
        for uid, code in missing.items():
            names[code] = names[code] or f"user-{uid}"

    def arr(col, dtype):
        return np.array(col, dtype=dtype)

    return _Data(
        study=study,
        task_type=study.task_type,
        config=config,
        names=np.array(names, dtype=object).astype(str) if names else np.zeros(0, dtype=str),
        excluded=np.array([bool(members[i][3]) for i in range(len(names))], dtype=bool),
        members=members,
        j_unit=arr(j_cols[0], np.int64),
        j_item=arr(j_cols[1], np.int64),
        j_ann=arr(j_cols[2], np.int64),
        j_kind=arr(j_cols[3], np.int8),
        j_strategy=np.array(j_cols[4], dtype=object).astype(str) if j_cols[4] else np.zeros(0, dtype=str),
        j_prop=arr(j_cols[5], float),
        j_time=arr(j_cols[6], float),
        j_dur=arr(j_cols[7], float),
        j_qc=arr(j_cols[8], float),
        c_id=c_id,
        c_item=np.array([c[1] for c in cands], dtype=np.int64),
        c_sys=np.array([sys_code.get(c[2], -1) for c in cands], dtype=np.int64),
        c_len=np.array([c[3] or 0 for c in cands], dtype=float),
        c_judges=[c[4] if isinstance(c[4], dict) else {} for c in cands],
        judge_system={
            judge: {s: float(v) for s, v in per.items() if _f(v) is not None}
            for judge, per in (Study.objects.filter(pk=study.pk).values_list("judge_system_scores", flat=True).first() or {}).items()
            if isinstance(per, dict)
        },
        systems=np.array(system_names, dtype=object).astype(str) if system_names else np.zeros(0, dtype=str),
        item_ext=item_ext,
        units=units,
        p_j=arr(p_cols[0], np.int64),
        p_a=arr(p_cols[1], np.int64),
        p_b=arr(p_cols[2], np.int64),
        p_out=arr(p_cols[3], np.int8),
        p_bad=arr(p_cols[4], bool),
        p_aspect=np.array(p_cols[5], dtype=object).astype(str) if p_cols[5] else np.zeros(0, dtype=str),
        p_first=arr(p_cols[6], np.int64),
        p_second=arr(p_cols[7], np.int64),
        r_j=arr(r_cols[0], np.int64),
        r_a=arr(r_cols[1], np.int64),
        r_b=arr(r_cols[2], np.int64),
        r_out=arr(r_cols[3], np.int8),
        r_first=arr(r_cols[4], np.int64),
        s_j=arr(s_cols[0], np.int64),
        s_c=arr(s_cols[1], np.int64),
        s_aspect=np.array(s_cols[2], dtype=object).astype(str) if s_cols[2] else np.zeros(0, dtype=str),
        s_score=arr(s_cols[3], float),
        e_j=arr(e_cols[0], np.int64),
        e_side=arr(e_cols[1], np.int64),
        e_start=arr(e_cols[2], np.int64),
        e_end=arr(e_cols[3], np.int64),
        e_weight=arr(e_cols[4], float),
    )


# ---------------------------------------------------------------------------------------
# Small output helpers


def _f(x) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _est(estimate, low=None, high=None, n=None, **extra) -> dict[str, Any]:
    out: dict[str, Any] = {"estimate": _f(estimate)}
    if low is not None or high is not None:
        out["low"], out["high"] = _f(low), _f(high)
    if n is not None:
        out["n"] = int(n)
    out.update(extra)
    return out


def _interval(iv: ps.Interval, n: int, **extra) -> dict[str, Any]:
    return _est(iv.estimate, iv.low, iv.high, n, **extra)


def _rate_row(t: ps.RateTable, i: int = 0) -> dict[str, Any]:
    return {
        "rate": _f(t.rate[i]),
        "low": _f(t.low[i]),
        "high": _f(t.high[i]),
        "successes": int(t.successes[i]),
        "n": int(t.trials[i]),
        "p_value": _f(t.p_value[i]),
    }


def _rate_rows(t: ps.RateTable, key: str = "annotator") -> list[dict[str, Any]]:
    return [{key: str(g), **_rate_row(t, i)} for i, g in enumerate(t.groups)]


def _ratio(num: np.ndarray, den: np.ndarray) -> float:
    d = float(np.sum(den))
    return float(np.sum(num)) / d if d > 0 else math.nan


def _boot_ratio(num: np.ndarray, den: np.ndarray, rng, n_boot: int) -> ps.Interval:
    """sum(num) / sum(den) with a bootstrap over rows (units)."""
    return ps.bootstrap_ci(_ratio, (num, den), rng, n_boot=n_boot, level=LEVEL)


def _nanmean(x) -> float:
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)]
    return float(x.mean()) if x.size else math.nan


def _pct_interval(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column percentile interval of replicate samples (NaN replicates skipped)."""
    if samples.shape[0] == 0:
        nan = np.full(samples.shape[1:], np.nan)
        return nan, nan
    tail = (1 - LEVEL) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: a system absent from the data
        low, high = np.nanquantile(samples, [tail, 1 - tail], axis=0)
    return low, high


def _rng(study: Study, section: int) -> np.random.Generator:
    """One generator per section, seeded from the study id: the same data give the same
    report, and one section's draws do not shift when another changes."""
    return np.random.default_rng([int(study.pk), section])


# ---------------------------------------------------------------------------------------
# The report


@dataclass
class _Ctx:
    d: _Data
    use_j: np.ndarray  # judgments that enter agreement, ranking, bias, judges
    use_rep: np.ndarray  # swapped-repeat rows (r_*) that enter the flip rate
    weight_j: np.ndarray  # 1/propensity where actively sampled, else 1
    reweighted: bool
    n_boot: int
    notes: list[str]
    primary: str  # the score aspect used for rankings and judges (score-based types)


def _primary_aspect(d: _Data) -> str:
    if d.task_type == "likert":
        return d.config["aspects"][0]["name"]
    if d.task_type in ("mqm", "rubric"):
        return d.task_type
    return ""


def study_report(
    study: Study,
    *,
    include_excluded: bool = False,
    compare: Study | None = None,
    n_boot: int | None = None,
) -> dict[str, Any]:
    """The whole report as a JSON-ready dict (see the module docstring). ``compare`` is a
    study of the same owner judged with the other kind of task (pairwise vs scores) on the
    same items (external ids) and systems, for the cross_elicitation section."""
    if compare is not None:
        _check_comparable(study, compare)
    d = _load(study)
    regular = d.j_kind == 0
    use_j = regular & (include_excluded | ~d.excluded[d.j_ann]) if d.j_ann.size else regular
    active = ~np.isin(d.j_strategy, list(UNWEIGHTED_STRATEGIES)) if d.j_strategy.size else np.zeros(0, bool)
    with np.errstate(divide="ignore"):
        weight_j = np.where(active & (d.j_prop > 0), 1.0 / np.where(d.j_prop > 0, d.j_prop, 1.0), 1.0)
    reweighted = bool((active & use_j).any())
    n_used = int(use_j.sum())
    notes: list[str] = []
    if n_boot is None:
        n_boot = FULL_BOOT if n_used <= FULL_BOOT_UP_TO else max(50, int(FULL_BOOT * FULL_BOOT_UP_TO / n_used))
        if n_boot < FULL_BOOT:
            notes.append(f"{n_used} judgments: bootstrap intervals use {n_boot} replicates instead of {FULL_BOOT}, to keep the report fast")
    n_boot = max(0, min(int(n_boot), 2000))
    if n_boot == 0:
        notes.append("no bootstrap (n_boot = 0): intervals are null")
    if reweighted:
        notes.append("some units were actively sampled: rankings and judge statistics weight those judgments by 1/propensity")
    ctx = _Ctx(d, use_j, _use_repeats(d, include_excluded), weight_j, reweighted, n_boot, notes, _primary_aspect(d))
    pairwise = d.task_type == "pairwise"

    report: dict[str, Any] = {
        "study": {
            "slug": study.slug,
            "name": study.name,
            "task_type": study.task_type,
            "redundancy": study.redundancy,
            "strategy": study.strategy,
            "status": study.status,
        },
        "generated_at": datetime.now(UTC).isoformat(),
        "options": {
            "include_excluded": include_excluded,
            "compare": compare.slug if compare else None,
            "n_boot": n_boot,
            "level": LEVEL,
            "seed": int(study.pk),
        },
        "notes": notes,
        "counts": _counts(ctx),
        "progress": _progress(ctx),
        "quality": _quality(ctx),
        "agreement": _agreement_pairwise(ctx) if pairwise else _agreement_scores(ctx),
    }
    ranking, human_system = _ranking_pairwise(ctx) if pairwise else (_ranking_scores(ctx), None)
    report["ranking"] = ranking
    report["bias"] = _bias_pairwise(ctx) if pairwise else _bias_scores(ctx)
    report["judges"] = _judges(ctx, human_system)
    if compare is not None:
        report["cross_elicitation"] = _cross_elicitation(ctx, compare, include_excluded)
    report["strategies"] = _strategies(ctx)
    return report


CACHE_SECONDS = 60


def _fingerprint(study: Study) -> str:
    """What the report depends on that changes as people work: judgments and exclusions
    (judge scores imported later show up when the cache entry expires)."""
    ann = Annotation.objects.filter(study=study).aggregate(n=Count("id"), last=Max("id"))
    mem = StudyMembership.objects.filter(study=study).aggregate(
        n=Count("id"), excluded=Count("id", filter=Q(excluded=True)), checks=Sum(F("qc_passed") + F("qc_failed"))
    )
    return f"{study.pk}.{study.created_at.timestamp()}.{study.updated_at.timestamp()}.{ann['n']}.{ann['last']}.{mem['n']}.{mem['excluded']}.{mem['checks']}"


def study_report_cached(study: Study, *, include_excluded: bool = False, compare: Study | None = None, n_boot: int | None = None) -> dict[str, Any]:
    """``study_report``, kept for a minute while the study's judgments and exclusions stay
    the same (two cheap aggregate queries per study decide), for dashboards that poll."""
    parts = [_fingerprint(study), _fingerprint(compare) if compare else "-", str(include_excluded), str(n_boot)]
    key = "study-report:" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]
    report = cache.get(key)
    if report is None:
        report = study_report(study, include_excluded=include_excluded, compare=compare, n_boot=n_boot)
        cache.set(key, report, CACHE_SECONDS)
    return report


def _check_comparable(study: Study, other: Study) -> None:
    if other.pk == study.pk:
        raise Invalid("compare: a study cannot be compared with itself", {"compare": "the same study"})
    if other.owner_id != study.owner_id:
        raise Invalid("compare: the other study must have the same owner", {"compare": "another owner's study"})
    if (study.task_type == "pairwise") == (other.task_type == "pairwise"):
        raise Invalid(
            "compare: needs one pairwise study and one score-based (likert, mqm, rubric) study",
            {"compare": f"both are {'pairwise' if study.task_type == 'pairwise' else 'score-based'}"},
        )


def _counts(ctx: _Ctx) -> dict[str, Any]:
    d = ctx.d
    return {
        "judgments": int(d.j_unit.size),
        "regular": int((d.j_kind == 0).sum()),
        "gold": int((d.j_kind == 1).sum()),
        "attention": int((d.j_kind == 2).sum()),
        "repeat": int((d.j_kind == 3).sum()),
        "annotators": int(np.unique(d.j_ann).size),
        "excluded_annotators": int(np.unique(d.j_ann[d.excluded[d.j_ann]]).size) if d.j_ann.size else 0,
        "analysed": int(ctx.use_j.sum()),
        "items": len(d.item_ext),
        "systems": int(d.systems.size),
    }


# --- progress ----------------------------------------------------------------------------


def _timeline(times: np.ndarray) -> dict[str, Any]:
    if times.size == 0:
        return {"bucket": "hour", "start": [], "judgments": [], "cumulative": []}
    span = times.max() - times.min()
    if span <= 72 * 3600:
        bucket, width = "hour", 3600
    elif span <= 500 * 86400:
        bucket, width = "day", 86400
    else:
        bucket, width = "week", 7 * 86400
    b = np.floor(times / width).astype(np.int64)
    lo = int(b.min())
    counts = np.bincount(b - lo)
    starts = [datetime.fromtimestamp((lo + k) * width, UTC).isoformat() for k in range(counts.size)]
    return {"bucket": bucket, "start": starts, "judgments": counts.tolist(), "cumulative": np.cumsum(counts).tolist()}


def _progress(ctx: _Ctx) -> dict[str, Any]:
    d = ctx.d
    redundancy = d.study.redundancy
    reg_units = [u for u in d.units.values() if u[0] == Unit.Kind.REGULAR]
    n_units = len(reg_units)
    regular = d.j_kind == 0
    judgments = int(regular.sum())
    target = n_units * redundancy
    per = []
    checks = (d.j_kind == 1) | (d.j_kind == 2)
    for code in np.unique(d.j_ann):
        mine = d.j_ann == code
        t = d.j_time[mine]
        dur = d.j_dur[mine & regular]
        dur = dur[~np.isnan(dur)]
        per.append({
            "annotator": str(d.names[code]),
            "judgments": int((mine & regular).sum()),
            "checks": int((mine & checks).sum()),
            "repeats": int((mine & (d.j_kind == 3)).sum()),
            "first": datetime.fromtimestamp(float(t.min()), UTC).isoformat(),
            "last": datetime.fromtimestamp(float(t.max()), UTC).isoformat(),
            "median_seconds": _f(np.median(dur) / 1000.0) if dur.size else None,
        })
    per.sort(key=lambda r: (-r["judgments"], r["annotator"]))
    return {
        "completion": {
            "units": n_units,
            "units_complete": sum(1 for u in reg_units if u[2] >= redundancy),
            "judgments": judgments,
            "judgments_target": target,
            "percent": round(100.0 * min(judgments, target) / target, 1) if target else 0.0,
            "active_leases": max(0, sum(u[3] - u[2] for u in reg_units)),
        },
        "timeline": _timeline(d.j_time[regular]),
        "per_annotator": per,
    }


# --- quality -----------------------------------------------------------------------------


def _majority_labels(ctx: _Ctx) -> tuple[np.ndarray, np.ndarray, str]:
    """(judgment index, label) of every regular judgment's main outcome, for agreement
    with the majority of the others: the pairwise outcome, or for score-based types the
    primary-aspect score of each (unit, candidate)."""
    d = ctx.d
    if d.task_type == "pairwise":
        main = d.p_aspect == ""
        return d.p_j[main], d.p_out[main].astype(float), "the outcome (first candidate, second, tie) most others chose"
    rows = d.s_aspect == ctx.primary
    return d.s_j[rows], d.s_score[rows], f"the {ctx.primary} score most others gave the same candidate"


def _quality(ctx: _Ctx) -> dict[str, Any]:
    d = ctx.d
    min_seconds = float(d.study.quality.get("min_seconds_per_unit", 0) or 0)
    # agreement with the majority of the other annotators (all annotators, regular units)
    mj, label, what = _majority_labels(ctx)
    pairwise = d.task_type == "pairwise"
    if pairwise:
        unit_key = d.j_unit[mj]
        agree = ps.agreement_with_majority(unit_key, label) if mj.size else np.zeros(0)
    else:
        rows = d.s_aspect == ctx.primary
        unit_key = d.j_unit[mj] * (d.c_id.size + 1) + d.s_c[rows]
        agree = ps.agreement_with_majority(unit_key, label) if mj.size else np.zeros(0)
    ann = d.j_ann[mj]
    # drift along each annotator's own sequence
    n_per = np.bincount(ann, minlength=d.names.size) if ann.size else np.zeros(d.names.size, int)
    window = int(max(10, min(50, np.median(n_per[n_per > 0]) // 4))) if (n_per > 0).any() else 50
    drift_agree = ps.drift(ann, d.j_time[mj], agree, window) if mj.size else None
    drift_first = None
    if pairwise and mj.size:
        main = d.p_aspect == ""
        first_won = np.where(d.p_out[main] == 0, np.nan, (_display_outcome(d, main) == 1).astype(float))
        drift_first = ps.drift(ann, d.j_time[mj], first_won, window)
    per = []
    for code in np.unique(d.j_ann):
        _role, qc_passed, qc_failed, excluded, reason = d.members[code]
        mine = d.j_ann == code
        checks = int(qc_passed) + int(qc_failed)
        low, high = ps.wilson_interval(np.array([qc_passed]), np.array([checks]), LEVEL)
        row: dict[str, Any] = {
            "annotator": str(d.names[code]),
            "judgments": int((mine & (d.j_kind == 0)).sum()),
            "checks": {"passed": int(qc_passed), "failed": int(qc_failed), "n": checks,
                       "rate": _f(qc_passed / checks) if checks else None, "low": _f(low[0]), "high": _f(high[0])},
        }
        for name, kind in (("gold", 1), ("attention", 2)):
            q = d.j_qc[mine & (d.j_kind == kind)]
            q = q[~np.isnan(q)]
            row[name] = {"passed": int(q.sum()), "n": int(q.size), "rate": _f(q.mean()) if q.size else None}
        dur = d.j_dur[mine]
        timed = ~np.isnan(dur)
        row["speeding"] = {
            "count": int((timed & (dur < min_seconds * 1000)).sum()) if min_seconds > 0 else 0,
            "n": int(timed.sum()),
        }
        row["excluded"] = bool(excluded)
        row["excluded_reason"] = reason or ""
        a = agree[ann == code]
        a = a[~np.isnan(a)]
        row["agreement_with_majority"] = {"rate": _f(a.mean()) if a.size else None, "n": int(a.size)}
        row["drift"] = _drift_row(drift_agree, drift_first, code)
        per.append(row)
    per.sort(key=lambda r: (-r["judgments"], r["annotator"]))
    return {
        "min_seconds_per_unit": min_seconds,
        "majority": what,
        "drift_window": window,
        "per_annotator": per,
    }


def _drift_row(drift_agree, drift_first, code) -> dict[str, Any]:
    """One annotator's windowed means, in their own order (windows of `drift_window`)."""
    out: dict[str, Any] = {}
    for key, dr in (("agreement_with_majority", drift_agree), ("first_position_rate", drift_first)):
        if dr is None:
            continue
        hit = np.flatnonzero(dr.annotators == code)
        if hit.size == 0:
            continue
        k = hit[0]
        nonzero = np.flatnonzero(dr.count[k] > 0)
        filled = int(nonzero[-1]) + 1 if nonzero.size else 0
        out[key] = {"mean": [_f(x) for x in dr.mean[k][:filled]], "n": [int(x) for x in dr.count[k][:filled]]}
    return out


# --- agreement ---------------------------------------------------------------------------


def _display_outcome(d: _Data, rows) -> np.ndarray:
    """Outcome codes relative to the display order: 1 = first-shown preferred."""
    return _shown_outcome(d.p_out[rows], d.p_a[rows], d.p_b[rows], d.p_first[rows])


def _shown_outcome(y, a, b, first) -> np.ndarray:
    winner = np.where(y == 1, a, b)
    return np.where(y == 0, 0, np.where(winner == first, 1, 2)).astype(np.int8)


def _alpha(unit: np.ndarray, value: np.ndarray, level: str, rng, n_boot: int) -> dict[str, Any]:
    if value.size == 0:
        return _est(math.nan, n=0, n_units=0)
    m = me.reliability_matrix(unit, value)
    pairable = (~np.isnan(m)).sum(axis=0) >= 2
    m = m[:, pairable]
    if m.shape[1] == 0:
        return _est(math.nan, n=0, n_units=0)
    iv = ps.bootstrap_ci(lambda cols: ps.krippendorff_alpha(cols.T, level), (m.T,), rng, n_boot=n_boot, level=LEVEL)
    return _interval(iv, int((~np.isnan(m)).sum()), n_units=int(m.shape[1]))


def _fleiss(unit: np.ndarray, label: np.ndarray) -> dict[str, Any]:
    if label.size == 0:
        return _est(math.nan, n=0)
    m = me.reliability_matrix(unit, label)
    per_unit = (~np.isnan(m)).sum(axis=0)
    sizes = per_unit[per_unit >= 2]
    if sizes.size == 0:
        return _est(math.nan, n=0)
    values, counts = np.unique(sizes, return_counts=True)
    r = int(values[counts == counts.max()].max())
    cols = m[:r, per_unit == r].T
    return _est(ps.fleiss_kappa_from_labels(cols), n=int(cols.shape[0]), raters_per_unit=r,
                units_left_out=int(sizes.size - cols.shape[0]))


def _pair_agreement_block(unit, label, rng, n_boot) -> dict[str, Any]:
    _, agree, pairs = me.agreement_counts(unit, label)
    iv = _boot_ratio(agree, pairs, rng, n_boot)
    return _interval(iv, int(pairs.sum()), n_units=int((pairs > 0).sum()))


def _agreement_pairwise(ctx: _Ctx) -> dict[str, Any]:
    d = ctx.d
    rng = _rng(d.study, 1)
    use = ctx.use_j[d.p_j] if d.p_j.size else np.zeros(0, bool)
    main = use & (d.p_aspect == "")
    unit, label, ann = d.j_unit[d.p_j[main]], d.p_out[main], d.j_ann[d.p_j[main]]
    kappas = me.rater_pair_kappas(unit, d.names[ann], label, MIN_KAPPA_OVERLAP) if label.size else None
    out: dict[str, Any] = {
        "outcomes": {"1": "first candidate (lower id) preferred", "2": "second candidate preferred", "0": "tie (or both bad)"},
        "n_judgments": int(main.sum()),
        "both_bad_counted_as_tie": int(d.p_bad[main].sum()),
        "pairwise_agreement": _pair_agreement_block(unit, label, rng, ctx.n_boot),
        "fleiss_kappa": _fleiss(unit, label),
        "krippendorff_alpha_nominal": _alpha(unit, label.astype(float), "nominal", rng, ctx.n_boot),
        "cohen_kappa": {
            "min_overlap": MIN_KAPPA_OVERLAP,
            "pairs": [] if kappas is None else [
                {"a": str(a), "b": str(b), "n": int(n), "kappa": _f(k)}
                for a, b, n, k in zip(kappas.rater_a, kappas.rater_b, kappas.n, kappas.kappa, strict=True)
            ],
        },
    }
    aspects = sorted(set(d.p_aspect[use].tolist()) - {""})
    if aspects:
        out["aspects"] = {}
        for aspect in aspects:
            rows = use & (d.p_aspect == aspect)
            u, lab = d.j_unit[d.p_j[rows]], d.p_out[rows]
            out["aspects"][aspect] = {
                "pairwise_agreement": _pair_agreement_block(u, lab, rng, ctx.n_boot),
                "krippendorff_alpha_nominal": _alpha(u, lab.astype(float), "nominal", rng, ctx.n_boot),
            }
    return out


def _score_rows(ctx: _Ctx, aspect: str) -> np.ndarray:
    d = ctx.d
    use = ctx.use_j[d.s_j] if d.s_j.size else np.zeros(0, bool)
    return use & (d.s_aspect == aspect)


def _aspects(ctx: _Ctx) -> list[str]:
    d = ctx.d
    seen = sorted(set(d.s_aspect.tolist()))
    if d.task_type == "likert":
        order = [a["name"] for a in d.config["aspects"]]
        return [a for a in order if a in seen]
    first = [ctx.primary] if ctx.primary in seen else []
    return first + [a for a in seen if a != ctx.primary]


def _agreement_scores(ctx: _Ctx) -> dict[str, Any]:
    d = ctx.d
    rng = _rng(d.study, 1)
    out: dict[str, Any] = {"unit_of_analysis": "one candidate of one unit, rated by several annotators", "aspects": {}}
    for aspect in _aspects(ctx):
        rows = _score_rows(ctx, aspect)
        key = d.j_unit[d.s_j[rows]] * (d.c_id.size + 1) + d.s_c[rows]
        vals = d.s_score[rows]
        block = {"n_judgments": int(rows.sum()), "alpha_interval": _alpha(key, vals, "interval", rng, ctx.n_boot)}
        if d.task_type in ("likert", "rubric") and not (d.task_type == "rubric" and aspect == "rubric"):
            block["alpha_ordinal"] = _alpha(key, vals, "ordinal", rng, ctx.n_boot)
        out["aspects"][aspect] = block
    if d.task_type == "mqm":
        out["spans"] = _span_agreement(ctx)
    return out


def _rows_of(sorted_keys: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions in `sorted_keys` equal to each target, and which target they belong to."""
    lo = np.searchsorted(sorted_keys, targets, "left")
    cnt = np.searchsorted(sorted_keys, targets, "right") - lo
    offs = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    return np.repeat(lo, cnt) + offs, np.repeat(np.arange(targets.size), cnt)


def _span_agreement(ctx: _Ctx) -> dict[str, Any]:
    """Character-level span F1 (and severity-weighted F1) over every pair of annotators'
    judgments of the same unit, pooled: each pair's spans only meet each other."""
    d = ctx.d
    judged = np.flatnonzero(ctx.use_j)
    ja, jb = me.within_group_pairs(d.j_unit[judged])
    ja, jb = judged[ja], judged[jb]
    n_pairs = int(ja.size)
    order = np.argsort(d.e_j, kind="stable")
    keys = d.e_j[order]

    def spans(targets):
        pos, pair = _rows_of(keys, targets)
        rows = order[pos]
        return ps.Spans(pair * 2 + d.e_side[rows], d.e_start[rows], d.e_end[rows], d.e_weight[rows]), np.bincount(pair, minlength=targets.size)

    sa, na = spans(ja)
    sb, nb = spans(jb)
    plain = ps.span_f1(sa, sb) if n_pairs else None
    weighted = ps.severity_weighted_f1(sa, sb) if n_pairs else None
    return {
        "n_pairs": n_pairs,
        "both_no_error": int(((na == 0) & (nb == 0)).sum()) if n_pairs else 0,
        "span_f1": _f(plain.f1) if plain else None,
        "severity_weighted_f1": _f(weighted.f1) if weighted else None,
        "note": "pooled over pairs of judgments of the same unit; pairs where neither marked a span add nothing",
    }


# --- ranking -----------------------------------------------------------------------------


@dataclass
class _HumanSystems:
    """Human system scores (for judges' system level): codes into d.systems, estimate and
    bootstrap samples (n_boot, systems) on the same scale."""

    codes: np.ndarray
    estimate: np.ndarray
    samples: np.ndarray
    label: str


def _robust_intervals(fit: ps.BTFit, i, j, y, w, clusters: dict[str, np.ndarray], covariates=None):
    """(low, high, covariance, description) of the scores and coefficients: the cluster-robust
    covariance (CV3, one-step cluster jackknife, where affordable) over the ways with enough clusters, with
    t critical values on G - 1 degrees of freedom. Honest where the model-based (Laplace)
    intervals are not: judgments of one item share its noise, one annotator's share their
    reliability, and 1/propensity weights of actively sampled judgments are uneven."""
    est = np.concatenate([fit.scores, fit.coef])
    if i.size < 2:  # no variance from a single judgment
        nan = np.full(est.size, np.nan)
        return nan, nan, None, "no interval from a single comparison"
    names = [name for name, c in clusters.items() if ps.usable_ways([c])]
    ways = [clusters[name] for name in names] or None
    jackknife = ps.jackknife_affordable(ways, i.size, fit.hessian.shape[0])
    cov = ps.robust_covariance(fit, i, j, y, ways, w, covariates, jackknife=jackknife)
    crit = ps.robust_critical_value(ways, i.size, LEVEL)
    se = np.sqrt(np.clip(np.diag(cov)[: est.size], 0, None))
    by = " and by ".join(names) if names else "judgment (too few items and annotators to cluster)"
    kind = "CV3 jackknife sandwich" if jackknife else "CV1 sandwich; CV3 would be too slow at this size"
    what = f"cluster-robust ({kind}) 95% intervals, clustered by {by}, t with {crit:.2f} as critical value"
    return est - crit * se, est + crit * se, cov, what


def _bt_block(ctx: _Ctx, i, j, y, w, rng, source: str, clusters: dict[str, np.ndarray]) -> tuple[dict[str, Any], _HumanSystems | None]:
    d = ctx.d
    if i.size == 0:
        return {"source": source, "n_comparisons": 0, "systems": []}, None
    codes, inv = np.unique(np.concatenate([i, j]), return_inverse=True)
    ii, jj = inv[: i.size], inv[i.size :]
    k = codes.size
    w = w / w.mean() if w.size and w.mean() > 0 else w
    fit = ps.fit_bt(ii, jj, y, k, w)
    # bootstrap replicates: the human side of the judges' system-level statistics
    boot = me.bootstrap_bt_cells(ii, jj, y, k, rng, n_boot=ctx.n_boot, level=LEVEL, weights=w)
    samples = boot.samples
    low, high, _, interval = _robust_intervals(fit, ii, jj, y, w, clusters)
    wins = np.bincount(ii[y == 1], minlength=k) + np.bincount(jj[y == 2], minlength=k)
    losses = np.bincount(ii[y == 2], minlength=k) + np.bincount(jj[y == 1], minlength=k)
    ties = np.bincount(ii[y == 0], minlength=k) + np.bincount(jj[y == 0], minlength=k)
    order = np.argsort(-fit.scores, kind="stable")
    rows = [
        {"system": str(d.systems[codes[s]]), "rank": r + 1, "score": _f(fit.scores[s]), "low": _f(low[s]), "high": _f(high[s]),
         "n": int(wins[s] + losses[s] + ties[s]), "wins": int(wins[s]), "losses": int(losses[s]), "ties": int(ties[s])}
        for r, s in enumerate(order)
    ]
    wr = ps.win_rate_matrix(ii, jj, y, k)
    block = {
        "method": "Bradley–Terry with ties (Davidson), logit scale, scores sum to 0",
        "source": source,
        "n_comparisons": int(i.size),
        "n_boot": ctx.n_boot,
        "interval": interval,
        "tie_parameter": _f(fit.nu),
        "weighted": ctx.reweighted,
        "systems": rows,
        "win_rate": {
            "systems": [str(d.systems[c]) for c in codes],
            "rate": [[_f(x) for x in row] for row in wr.rate],
            "n": [[int(x) for x in row] for row in wr.count],
            "note": "rate[a][b] = share of a-vs-b comparisons won by a, ties count a half",
        },
    }
    return block, _HumanSystems(codes, fit.scores, samples, "Bradley–Terry score")


def _pairwise_main(ctx: _Ctx) -> np.ndarray:
    d = ctx.d
    if d.p_j.size == 0:
        return np.zeros(0, bool)
    return ctx.use_j[d.p_j] & (d.p_aspect == "") & (d.c_sys[d.p_a] >= 0) & (d.c_sys[d.p_b] >= 0)


def _ranking_pairwise(ctx: _Ctx) -> tuple[dict[str, Any], _HumanSystems | None]:
    d = ctx.d
    rows = _pairwise_main(ctx)
    i, j, y = d.c_sys[d.p_a[rows]], d.c_sys[d.p_b[rows]], d.p_out[rows]
    block, human = _bt_block(ctx, i, j, y, ctx.weight_j[d.p_j[rows]], _rng(d.study, 2), "pairwise judgments",
                             {"item": d.j_item[d.p_j[rows]], "annotator": d.j_ann[d.p_j[rows]]})
    return {"bradley_terry": block}, human


@dataclass
class _CandidateMeans:
    """Per candidate: mean score of one aspect over the analysed judgments."""

    cand: np.ndarray  # candidate rows
    mean: np.ndarray
    n: np.ndarray
    weight: np.ndarray  # mean 1/propensity weight of its judgments


def _candidate_means(ctx: _Ctx, aspect: str) -> _CandidateMeans:
    d = ctx.d
    rows = _score_rows(ctx, aspect) & (d.c_sys[d.s_c] >= 0) if d.s_c.size else np.zeros(0, bool)
    c = d.s_c[rows]
    cand, inv = np.unique(c, return_inverse=True)
    n = np.bincount(inv, minlength=cand.size)
    mean = np.bincount(inv, d.s_score[rows], cand.size) / np.maximum(n, 1)
    weight = np.bincount(inv, ctx.weight_j[d.s_j[rows]], cand.size) / np.maximum(n, 1)
    return _CandidateMeans(cand, mean, n, weight)


def _derived_pairs(ctx: _Ctx, cm: _CandidateMeans) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Candidate pairs of the same item (positions into cm), the human score difference
    and the pair weight."""
    d = ctx.d
    a, b = me.within_group_pairs(d.c_item[cm.cand])
    return a, b, cm.mean[a] - cm.mean[b], (cm.weight[a] + cm.weight[b]) / 2.0


def _system_means(ctx: _Ctx, cm: _CandidateMeans, values: list[np.ndarray], rng) -> me.GroupMeans:
    d = ctx.d
    return me.cluster_bootstrap_means(values, d.c_sys[cm.cand], d.systems.size, d.c_item[cm.cand], rng, ctx.n_boot)


def _ranking_scores(ctx: _Ctx) -> dict[str, Any]:
    d = ctx.d
    rng = _rng(d.study, 2)
    out: dict[str, Any] = {"primary_aspect": ctx.primary, "system_scores": {}}
    for aspect in _aspects(ctx):
        cm = _candidate_means(ctx, aspect)
        sign = -1.0 if (d.task_type == "mqm" and aspect == "mqm") else 1.0  # MQM: report the penalty
        gm = _system_means(ctx, cm, [sign * cm.mean], rng)
        low, high = _pct_interval(gm.samples[:, 0, :])
        n_items = np.bincount(d.c_sys[cm.cand], minlength=d.systems.size)
        n_judg = np.bincount(d.c_sys[cm.cand], cm.n, d.systems.size).astype(int)
        key = -sign * gm.estimate[0]  # best first: highest mean, lowest MQM penalty
        order = np.argsort(np.where(np.isnan(key), np.inf, key), kind="stable")
        out["system_scores"][aspect] = [
            {"system": str(d.systems[s]), "mean": _f(gm.estimate[0, s]), "low": _f(low[s]), "high": _f(high[s]),
             "n_items": int(n_items[s]), "n_judgments": int(n_judg[s])}
            for s in order if n_items[s] > 0
        ]
    if d.task_type == "mqm":
        rows = _score_rows(ctx, "mqm") & (d.c_sys[d.s_c] >= 0) if d.s_c.size else np.zeros(0, bool)
        if rows.any():
            labels, scores = ps.system_scores(d.c_sys[d.s_c[rows]], d.c_item[d.s_c[rows]], d.j_ann[d.s_j[rows]], -d.s_score[rows])
            by_sys = {int(s): float(v) for s, v in zip(labels, scores, strict=True)}
            for row in out["system_scores"]["mqm"]:
                code = int(np.flatnonzero(d.systems == row["system"])[0])
                row["mean"] = _f(by_sys[code])
        out["mqm_note"] = "mqm: mean segment penalty (lower is better): per segment the mean over raters of their summed error weights"
    cm = _candidate_means(ctx, ctx.primary)
    a, b, diff, w = _derived_pairs(ctx, cm)
    y = np.where(diff > 0, 1, np.where(diff < 0, 2, 0)).astype(np.int8)
    out["bradley_terry"], _ = _bt_block(ctx, d.c_sys[cm.cand[a]], d.c_sys[cm.cand[b]], y, w, rng,
                                        f"pairs of candidates of the same item, ordered by their mean {ctx.primary} score",
                                        {"item": d.c_item[cm.cand[a]]})
    return out


# --- bias --------------------------------------------------------------------------------


def _bias_pairwise(ctx: _Ctx) -> dict[str, Any]:
    d = ctx.d
    rows = _pairwise_main(ctx)
    y = _display_outcome(d, rows)
    ann = d.names[d.j_ann[d.p_j[rows]]]
    first, second = d.p_first[rows], d.p_second[rows]
    # Swapped repeats against every regular judgment of the same annotator and pair: only
    # (A-B, B-A) combinations count, so regular judgments without a repeat add nothing.
    rep = ctx.use_rep
    r_first = d.r_first[rep]
    r_second = np.where(r_first == d.r_a[rep], d.r_b[rep], d.r_a[rep])
    f_ann = np.concatenate([ann, d.names[d.j_ann[d.r_j[rep]]]])
    f_first = np.concatenate([d.c_id[first], d.c_id[r_first]])
    f_second = np.concatenate([d.c_id[second], d.c_id[r_second]])
    f_y = np.concatenate([y, _shown_outcome(d.r_out[rep], d.r_a[rep], d.r_b[rep], r_first)])
    out: dict[str, Any] = {
        "position": {
            "what": "share of decisive judgments won by the candidate shown first (ties left out); p-value: exact binomial test against 1/2",
            "overall": _rate_row(ps.position_bias(y)),
            "per_annotator": _rate_rows(ps.position_bias(y, ann)) if y.size else [],
        },
        "swapped_repeats": {
            "what": "same annotator, same pair, both display orders: share of (A-B, B-A) judgment pairs whose preferred candidate differs "
                    "(ties left out); a flip means the position, not the content, decided",
            "share": float(d.study.quality.get("repeat_share", 0) or 0),
            "repeats": int(rep.sum()),
            "overall": _rate_row(ps.swap_flip_rate(f_ann, f_first, f_second, f_y)),
            "per_annotator": [
                r for r in _rate_rows(ps.swap_flip_rate(f_ann, f_first, f_second, f_y, by_annotator=True)) if r["n"]
            ] if f_y.size else [],
        },
        "length": {
            "what": "share of decisive judgments between candidates of different length won by the longer one",
            "overall": _rate_row(ps.length_bias(d.c_len[first], d.c_len[second], y)),
            "per_annotator": _rate_rows(ps.length_bias(d.c_len[first], d.c_len[second], y, ann)) if y.size else [],
        },
    }
    out["length_controlled"] = _length_controlled(ctx, d.c_sys[d.p_a[rows]], d.c_sys[d.p_b[rows]], d.p_out[rows],
                                                  d.c_len[d.p_a[rows]], d.c_len[d.p_b[rows]], ctx.weight_j[d.p_j[rows]],
                                                  {"item": d.j_item[d.p_j[rows]], "annotator": d.j_ann[d.p_j[rows]]})
    return out


def _length_controlled(ctx: _Ctx, i, j, y, len_i, len_j, w, clusters: dict[str, np.ndarray]) -> dict[str, Any]:
    d = ctx.d
    if i.size == 0:
        return {"n": 0, "systems": []}
    codes, inv = np.unique(np.concatenate([i, j]), return_inverse=True)
    k = codes.size
    w = w / w.mean() if w.mean() > 0 else w
    ii, jj = inv[: i.size], inv[i.size :]
    lc = ps.length_controlled_bt(ii, jj, y, len_i, len_j, k, w)
    li, lj = np.asarray(len_i, dtype=float), np.asarray(len_j, dtype=float)
    x = np.where(li + lj > 0, (li - lj) / np.where(li + lj > 0, li + lj, 1.0), 0.0)  # as length_controlled_bt
    low, high, _, interval = _robust_intervals(lc.controlled, ii, jj, y, w, clusters, x[:, None])
    beta = lc.controlled.coef[0]
    return {
        "what": "Bradley–Terry with the normalised length difference (len_a - len_b)/(len_a + len_b) as a covariate; "
                "controlled scores are the system scores with that covariate at zero",
        "interval": interval,
        "n": int(i.size),
        "length_coefficient": _est(beta, low[k], high[k]),
        "systems": [
            {"system": str(d.systems[codes[s]]), "raw": _f(lc.raw.scores[s]), "controlled": _f(lc.controlled.scores[s]),
             "low": _f(low[s]), "high": _f(high[s])}
            for s in np.argsort(-lc.controlled.scores, kind="stable")
        ],
    }


def _bias_scores(ctx: _Ctx) -> dict[str, Any]:
    d = ctx.d
    cm = _candidate_means(ctx, ctx.primary)
    a, b, diff, w = _derived_pairs(ctx, cm)
    y = np.where(diff > 0, 1, np.where(diff < 0, 2, 0)).astype(np.int8)
    ca, cb = cm.cand[a], cm.cand[b]
    return {
        "length": {
            "what": f"pairs of candidates of the same item with different mean {ctx.primary} scores and lengths: share where the longer one scored higher",
            "overall": _rate_row(ps.length_bias(d.c_len[ca], d.c_len[cb], y)),
        },
        "length_controlled": _length_controlled(ctx, d.c_sys[ca], d.c_sys[cb], y, d.c_len[ca], d.c_len[cb], w, {"item": d.c_item[ca]}),
    }


# --- judges ------------------------------------------------------------------------------


def judge_names(d: _Data) -> list[str]:
    names: set[str] = {judge for judge, per in d.judge_system.items() if per}
    for judges in d.c_judges:
        names.update(k for k, v in judges.items() if _f(v) is not None)
    return sorted(names)


def _judge_scores(d: _Data, name: str) -> np.ndarray:
    return np.array([_f(j.get(name)) if _f(j.get(name)) is not None else np.nan for j in d.c_judges], dtype=float)


def _acc(h, dm, w) -> float:
    return me.tie_calibrated_pair_accuracy(h, dm, w).accuracy


def _ece(h, dm, w) -> float:
    return ps.calibration_curve(me.preference_probability(dm), ps.outcome_score(np.where(h > 0, 1, np.where(h < 0, 2, 0))), 10, w).ece


def segment_level(
    human: np.ndarray,
    metric_diff: np.ndarray,
    weights: np.ndarray,
    cluster: np.ndarray,
    rng: np.random.Generator,
    n_boot: int,
    *,
    unweighted: np.ndarray | None = None,
    tau_from: tuple[np.ndarray, np.ndarray] | None = None,
    darr: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Segment-level agreement of one judge with the humans over pairs: ``human`` is the
    human preference for the pair's first candidate (sign: +1, 0 tie, -1; or a score
    difference), ``metric_diff`` the judge's score difference, ``weights`` per pair,
    ``cluster`` the item (bootstrap unit); ``unweighted``: the weights without the
    1/propensity factor, given when some judgments were actively sampled (acc_eq is then
    reported both ways). Kendall taus come from ``tau_from`` = (human,
    metric) per candidate when given (score-based types), else over the pairs; the WMT
    tau-like from ``darr`` = (judge score of the human-preferred, of the other)."""
    n = int(human.size)
    if n == 0:
        return {"n": 0}
    w = np.asarray(weights, dtype=float)
    tc = me.tie_calibrated_pair_accuracy(human, metric_diff, w)
    acc = ps.bootstrap_ci(_acc, (human, metric_diff, w), rng, n_boot=n_boot, level=LEVEL, cluster=cluster)
    out: dict[str, Any] = {
        "n": n,
        "acc_eq": _est(tc.accuracy, acc.low, acc.high, n, epsilon=tc.epsilon, weighted=unweighted is not None),
    }
    if unweighted is not None:
        plain = me.tie_calibrated_pair_accuracy(human, metric_diff, unweighted)
        out["acc_eq_unweighted"] = _est(plain.accuracy, n=n, epsilon=plain.epsilon)
    decisive_pairs = int((np.sign(human) != 0).sum())
    out["pairwise_accuracy_decisive"] = _est(
        _nanmean((np.sign(metric_diff) == np.sign(human))[np.sign(human) != 0]) if decisive_pairs else math.nan, n=decisive_pairs,
        what="share of pairs with a human preference that the judge orders the same way (judge ties count wrong)")
    if tau_from is None:
        if unweighted is not None:  # actively sampled: each judgment counts 1/propensity, as in acc_eq
            tb = me.pair_kendall(human, metric_diff, "b", weights=w)
            tb_iv = ps.bootstrap_ci(lambda h, m, ww: me.pair_kendall(h, m, "b", weights=ww), (human, metric_diff, w), rng,
                                    n_boot=n_boot, level=LEVEL, cluster=cluster)
            out["kendall_tau_b"] = _est(tb, tb_iv.low, tb_iv.high, n, weighted=True)
            out["kendall_tau_b_unweighted"] = _est(me.pair_kendall(human, metric_diff, "b"), n=n)
        else:
            tb = me.pair_kendall(human, metric_diff, "b")
            tb_iv = ps.bootstrap_ci(lambda h, m: me.pair_kendall(h, m, "b"), (human, metric_diff), rng, n_boot=n_boot, level=LEVEL, cluster=cluster)
            out["kendall_tau_b"] = _est(tb, tb_iv.low, tb_iv.high, n)
        out["kendall_tau_c"] = _est(me.pair_kendall(human, metric_diff, "c"), n=n)
    else:
        hx, mx = tau_from
        out["kendall_tau_b"] = _est(ps.kendall_tau(hx, mx, "b"), n=int(hx.size))
        out["kendall_tau_c"] = _est(ps.kendall_tau(hx, mx, "c"), n=int(hx.size))
        out["pearson"] = _est(ps.pearson(hx, mx), n=int(hx.size))
    if darr is not None:
        better, worse = darr
        out["wmt_tau_like"] = _est(ps.wmt_tau_like(better, worse), n=int(better.size), ties="judge ties count as discordant (WMT20)")
    cal = ps.calibration_curve(me.preference_probability(metric_diff),
                               ps.outcome_score(np.where(human > 0, 1, np.where(human < 0, 2, 0))), 10, w)
    ece_iv = ps.bootstrap_ci(_ece, (human, metric_diff, w), rng, n_boot=n_boot, level=LEVEL, cluster=cluster)
    out["calibration"] = {
        "what": "sigmoid(score difference) as P(first preferred) against the human outcome (tie = 1/2); meaningful for logit-scale judges (reward models)",
        "ece": _est(cal.ece, ece_iv.low, ece_iv.high, n),
        "bins": {"edges": [_f(x) for x in cal.edges], "confidence": [_f(x) for x in cal.confidence],
                 "observed": [_f(x) for x in cal.observed], "weight": [_f(x) for x in cal.weight]},
    }
    return out


def system_level(
    human: np.ndarray,
    judge: np.ndarray,
    human_samples: np.ndarray | None = None,
    judge_samples: np.ndarray | None = None,
) -> dict[str, Any]:
    """System-level agreement of a judge with the humans: Pearson, Kendall tau-b and, when
    replicate samples (n_boot, systems) of both are given, percentile intervals and soft
    pairwise accuracy from bootstrap p-values. Systems NaN on either side are left out."""
    h = np.asarray(human, dtype=float)
    m = np.asarray(judge, dtype=float)
    ok = ~np.isnan(h) & ~np.isnan(m)
    n = int(ok.sum())
    out: dict[str, Any] = {"n_systems": n}
    pe, kt = ps.pearson(h[ok], m[ok]) if n >= 2 else math.nan, ps.kendall_tau(h[ok], m[ok], "b") if n >= 2 else math.nan
    pa = ps.pairwise_accuracy(h[ok], m[ok]) if n >= 2 else math.nan
    if human_samples is not None and judge_samples is not None and len(human_samples) and len(judge_samples) and n >= 2:
        hs, ms = np.asarray(human_samples)[:, ok], np.asarray(judge_samples)[:, ok]
        b = min(len(hs), len(ms))
        hs, ms = hs[:b], ms[:b]
        out["pearson"] = _est(pe, *me.replicate_interval(ps.pearson, hs, ms, LEVEL), n)
        out["kendall_tau_b"] = _est(kt, *me.replicate_interval(lambda x, y: ps.kendall_tau(x, y, "b"), hs, ms, LEVEL), n)
        out["pairwise_accuracy"] = _est(pa, n=n)
        out["soft_pairwise_accuracy"] = _est(
            ps.soft_pairwise_accuracy(me.pvalues_from_samples(hs), me.pvalues_from_samples(ms)), n=n,
            p_values="bootstrap: share of replicates in which a system does not score above another")
    else:
        out["pearson"] = _est(pe, n=n)
        out["kendall_tau_b"] = _est(kt, n=n)
        out["pairwise_accuracy"] = _est(pa, n=n)
    return out


def _judges(ctx: _Ctx, human_sys: _HumanSystems | None) -> dict[str, Any]:
    d = ctx.d
    names = judge_names(d)
    rng = _rng(d.study, 4)
    pairwise = d.task_type == "pairwise"
    out: dict[str, Any] = {
        "judges": names,
        "human_reference": "pairwise votes of the annotators" if pairwise else f"mean {ctx.primary} score of each candidate over its annotators",
        "weighted": ctx.reweighted,
        "n_boot": ctx.n_boot,
        "human_ceiling": _human_ceiling(ctx, rng),
        "segment": [],
        "system": [],
    }
    if not names:
        return out
    if pairwise:
        rows = _pairwise_main(ctx)
        pa, pb = d.p_a[rows], d.p_b[rows]
        y = d.p_out[rows]
        human = np.where(y == 1, 1.0, np.where(y == 2, -1.0, 0.0))
        weight = ctx.weight_j[d.p_j[rows]]
        base = np.ones(weight.size) if ctx.reweighted else None
        cluster = d.j_item[d.p_j[rows]]
        # candidates the humans judged: system scores of the judge are means over them
        cands = np.unique(np.concatenate([pa, pb]))
    else:
        cm = _candidate_means(ctx, ctx.primary)
        a, b, hdiff, wpair = _derived_pairs(ctx, cm)
        cands = cm.cand
        # Deutsch et al.'s item grouping: every item weighs the same
        _, item_code = np.unique(d.c_item[cm.cand[a]], return_inverse=True)
        per_item = np.bincount(item_code) if a.size else np.zeros(0)
        gweight = wpair / per_item[item_code] if a.size else wpair
        gbase = 1.0 / per_item[item_code] if (a.size and ctx.reweighted) else None
    for name in names:
        score = _judge_scores(d, name)
        kind = "reward_model" if name.startswith("rm/") else "metric"
        if pairwise:
            has = ~np.isnan(score[pa]) & ~np.isnan(score[pb])
            dm = score[pa[has]] - score[pb[has]]
            h = human[has]
            win = np.where(h > 0, pa[has], pb[has])
            lose = np.where(h > 0, pb[has], pa[has])
            dec = h != 0
            seg = segment_level(h, dm, weight[has], cluster[has], rng, ctx.n_boot, unweighted=None if base is None else base[has],
                                darr=(score[win[dec]], score[lose[dec]]))
        else:
            has = ~np.isnan(score[cm.cand[a]]) & ~np.isnan(score[cm.cand[b]])
            dm = score[cm.cand[a[has]]] - score[cm.cand[b[has]]]
            hc = ~np.isnan(score[cm.cand])
            better, worse = me.within_group_pairs(d.c_item[cm.cand[hc]])
            hv, mv = cm.mean[hc], score[cm.cand[hc]]
            ok = hv[better] != hv[worse]
            better, worse = np.where(hv[better] > hv[worse], better, worse)[ok], np.where(hv[better] > hv[worse], worse, better)[ok]
            seg = segment_level(hdiff[has], dm, gweight[has], d.c_item[cm.cand[a[has]]], rng, ctx.n_boot,
                                unweighted=None if gbase is None else gbase[has], tau_from=(hv, mv), darr=(mv[better], mv[worse]))
        out["segment"].append({"judge": name, "kind": kind, **seg})
        imported = d.judge_system.get(name)
        if imported:
            # system-level scores imported as such: fixed (no judge-side resampling)
            if pairwise and human_sys is not None:
                codes, h_est, h_samples, label = human_sys.codes, human_sys.estimate, human_sys.samples, human_sys.label
            elif not pairwise:
                gm = me.cluster_bootstrap_means([cm.mean], d.c_sys[cm.cand], d.systems.size, d.c_item[cm.cand], rng, ctx.n_boot)
                codes = np.flatnonzero(np.bincount(d.c_sys[cm.cand], minlength=d.systems.size) > 0)
                h_est, h_samples = gm.estimate[0, codes], gm.samples[:, 0, codes]
                label = f"mean {ctx.primary} score of each system's candidates"
            else:
                continue
            j_est = np.array([imported.get(str(d.systems[c]), np.nan) for c in codes], dtype=float)
            sysl = system_level(h_est, j_est, h_samples, np.tile(j_est, (len(h_samples), 1)))
            sysl["scores"] = {str(d.systems[c]): _f(v) for c, v in zip(codes, j_est, strict=True)}
            out["system"].append({"judge": name, "kind": kind, "human": label, "judge_scores": "imported at system level", **sysl})
            continue
        if pairwise and human_sys is not None:
            # human: Bradley–Terry scores (bootstrap over comparisons); judge: mean score of
            # each system's judged candidates (bootstrap over items)
            jc = cands[~np.isnan(score[cands])]
            gm = me.cluster_bootstrap_means([score[jc]], d.c_sys[jc], d.systems.size, d.c_item[jc], rng, ctx.n_boot)
            codes, h_est, h_samples = human_sys.codes, human_sys.estimate, human_sys.samples
            j_est, j_samples, label = gm.estimate[0, codes], gm.samples[:, 0, codes], human_sys.label
        elif not pairwise:
            # human and judge system means over the same candidates, from the same item draws
            keep = ~np.isnan(score[cm.cand])
            jc = cm.cand[keep]
            gm = me.cluster_bootstrap_means([cm.mean[keep], score[jc]], d.c_sys[jc], d.systems.size, d.c_item[jc], rng, ctx.n_boot)
            codes = np.flatnonzero(np.bincount(d.c_sys[jc], minlength=d.systems.size) > 0)
            h_est, h_samples = gm.estimate[0, codes], gm.samples[:, 0, codes]
            j_est, j_samples = gm.estimate[1, codes], gm.samples[:, 1, codes]
            label = f"mean {ctx.primary} score over the candidates the judge scored"
        else:
            continue
        sysl = system_level(h_est, j_est, h_samples, j_samples)
        sysl["scores"] = {str(d.systems[c]): _f(v) for c, v in zip(codes, j_est, strict=True)}
        out["system"].append({"judge": name, "kind": kind, "human": label, **sysl})
    return out


def _human_ceiling(ctx: _Ctx, rng) -> dict[str, Any]:
    d = ctx.d
    if d.task_type == "pairwise":
        rows = _pairwise_main(ctx)
        unit, label = d.j_unit[d.p_j[rows]], d.p_out[rows]
        agree = ps.agreement_with_majority(unit, label) if label.size else np.zeros(0)
        ok = ~np.isnan(agree)
        loo = ps.bootstrap_ci(np.mean, (agree[ok],), rng, n_boot=ctx.n_boot, level=LEVEL, cluster=unit[ok]) if ok.any() else None
        return {
            "pairwise_agreement": {**_pair_agreement_block(unit, label, rng, ctx.n_boot),
                                   "what": "chance that another annotator's vote on the same unit matches (tie-aware): the human counterpart of acc_eq"},
            "leave_one_out_majority": {**(_interval(loo, int(ok.sum())) if loo else _est(math.nan, n=0)),
                                       "what": "share of votes that match the strict majority of the other votes on the unit"},
        }
    rows = _score_rows(ctx, ctx.primary) & (d.c_sys[d.s_c] >= 0) if d.s_c.size else np.zeros(0, bool)
    if not rows.any():
        return {"leave_one_out_pairwise_accuracy": _est(math.nan, n=0)}
    c = d.s_c[rows]
    loo = me.leave_one_rater_out_pairs(d.c_item[c], c, d.j_ann[d.s_j[rows]], d.s_score[rows])
    if loo.correct.size == 0:
        return {"leave_one_out_pairwise_accuracy": _est(math.nan, n=0)}
    iv = ps.bootstrap_ci(np.mean, (loo.correct.astype(float),), rng, n_boot=ctx.n_boot, level=LEVEL, cluster=loo.group)
    return {
        "leave_one_out_pairwise_accuracy": {
            **_interval(iv, int(loo.correct.size)),
            "what": "share of one annotator's candidate pairs (same item) ordered like the other annotators' mean; ties count as an order",
        }
    }


# --- cross-elicitation -------------------------------------------------------------------


def _cross_elicitation(ctx: _Ctx, other_study: Study, include_excluded: bool) -> dict[str, Any]:
    other = _load(other_study)
    if ctx.d.task_type == "pairwise":
        p_ctx = ctx
        s_ctx = _ctx_for(other, include_excluded, ctx.n_boot)
    else:
        p_ctx = _ctx_for(other, include_excluded, ctx.n_boot)
        s_ctx = ctx
    p, s = p_ctx.d, s_ctx.d
    cm = _candidate_means(s_ctx, s_ctx.primary)
    mean_of = {(s.item_ext[int(s.c_item[c])], str(s.systems[s.c_sys[c]])): float(v) for c, v in zip(cm.cand, cm.mean, strict=True)}
    rows = np.flatnonzero(_pairwise_main(p_ctx))
    keep, implied = [], []
    for r in rows:
        ext = p.item_ext[int(p.c_item[p.p_a[r]])]
        ma = mean_of.get((ext, str(p.systems[p.c_sys[p.p_a[r]]])))
        mb = mean_of.get((ext, str(p.systems[p.c_sys[p.p_b[r]]])))
        if ma is not None and mb is not None:
            keep.append(r)
            implied.append(ma - mb)
    keep_a = np.array(keep, dtype=np.int64)
    diff = np.array(implied, dtype=float)
    y = p.p_out[keep_a]
    vote = np.where(y == 1, 1.0, np.where(y == 2, -1.0, 0.0))
    rng = _rng(ctx.d.study, 5)
    out: dict[str, Any] = {
        "pairwise_study": p.study.slug,
        "score_study": s.study.slug,
        "score_aspect": s_ctx.primary,
        "matching": "same item external id and system; the score study's mean score per candidate implies a preference",
        "n_votes": int(keep_a.size),
        "n_items": int(np.unique(p.c_item[p.p_a[keep_a]]).size) if keep_a.size else 0,
    }
    if keep_a.size == 0:
        return out
    same = np.sign(diff) == vote
    unit = p.j_unit[p.p_j[keep_a]]
    iv = ps.bootstrap_ci(np.mean, (same.astype(float),), rng, n_boot=ctx.n_boot, level=LEVEL, cluster=unit)
    out["exact_agreement"] = _interval(iv, int(same.size), what="share of votes equal to the score-implied outcome (a, b or tie)")
    dec = (vote != 0) & (diff != 0)
    out["decisive_agreement"] = _est(_nanmean(same[dec]) if dec.any() else math.nan, n=int(dec.sum()),
                                     what="votes and score differences that both prefer one candidate: share preferring the same one")
    seg = segment_level(vote, diff, np.ones(diff.size), p.j_item[p.p_j[keep_a]], rng, ctx.n_boot)
    out["acc_eq"] = seg["acc_eq"]
    out["kendall_tau_b"] = seg["kendall_tau_b"]
    # per unit: the strict majority vote against the implied preference
    units, u = np.unique(unit, return_inverse=True)
    counts = np.bincount(u * 3 + (vote.astype(int) + 1), minlength=units.size * 3).reshape(units.size, 3)
    strict = (counts == counts.max(axis=1, keepdims=True)).sum(axis=1) == 1
    implied_u = np.zeros(units.size)
    implied_u[u] = np.sign(diff)  # the same for every vote of a unit
    hit = (counts.argmax(axis=1) - 1) == implied_u
    out["majority_agreement"] = _est(_nanmean(hit[strict].astype(float)) if strict.any() else math.nan, n=int(strict.sum()),
                                     what="units with a strict majority vote: share where it equals the score-implied outcome")
    return out


def _ctx_for(d: _Data, include_excluded: bool, n_boot: int) -> _Ctx:
    regular = d.j_kind == 0
    use_j = regular & (include_excluded | ~d.excluded[d.j_ann]) if d.j_ann.size else regular
    return _Ctx(d, use_j, _use_repeats(d, include_excluded), np.ones(d.j_unit.size), False, n_boot, [], _primary_aspect(d))


def _use_repeats(d: _Data, include_excluded: bool) -> np.ndarray:
    if d.r_j.size == 0 or include_excluded:
        return np.ones(d.r_j.size, bool)
    return ~d.excluded[d.j_ann[d.r_j]]


# --- strategies --------------------------------------------------------------------------


def _strategies(ctx: _Ctx) -> list[dict[str, Any]]:
    d = ctx.d
    out = []
    for name in sorted(set(d.j_strategy.tolist())):
        mine = d.j_strategy == name
        reg = mine & (d.j_kind == 0)
        out.append({
            "strategy": name,
            "judgments": int(reg.sum()),
            "checks": int((mine & (d.j_kind != 0)).sum()),
            "units": int(np.unique(d.j_unit[reg]).size),
            "propensity_min": _f(d.j_prop[reg].min()) if reg.any() else None,
            "propensity_mean": _f(d.j_prop[reg].mean()) if reg.any() else None,
            "reweighted": bool(reg.any()) and name not in UNWEIGHTED_STRATEGIES,
            # gold units, attention checks and swapped repeats, leased by the quality hook
            "quality_control": not reg.any() and bool((mine & (d.j_kind != 0)).any()),
        })
    out.sort(key=lambda r: -r["judgments"])
    return out


# ---------------------------------------------------------------------------------------
# Text form


def _fmt(x, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _fmt_iv(block: dict[str, Any] | None, digits: int = 3) -> str:
    if not block:
        return "-"
    est = _fmt(block.get("estimate"), digits)
    if block.get("low") is not None:
        est += f" [{_fmt(block['low'], digits)}, {_fmt(block['high'], digits)}]"
    return est + (f" (n={block['n']})" if "n" in block else "")


def report_text(report: dict[str, Any]) -> str:
    """A short human-readable summary of the report document."""
    s, c = report["study"], report["counts"]
    prog = report["progress"]["completion"]
    lines = [
        (f"{s['slug']} ({s['task_type']}, {s['status']}): {prog['judgments']}/{prog['judgments_target']} judgments "
         f"({prog['percent']}%), {prog['units_complete']}/{prog['units']} units complete"),
        (f"judgments: {c['regular']} regular, {c['gold']} gold, {c['attention']} attention, {c.get('repeat', 0)} swapped repeats; "
         f"{c['annotators']} annotators ({c['excluded_annotators']} excluded); analysed {c['analysed']}"),
    ]
    lines += [f"note: {n}" for n in report["notes"]]
    ag = report["agreement"]
    if "pairwise_agreement" in ag:
        lines.append(f"agreement: pairwise {_fmt_iv(ag['pairwise_agreement'])}, Fleiss kappa {_fmt_iv(ag['fleiss_kappa'])}, "
                     f"alpha {_fmt_iv(ag['krippendorff_alpha_nominal'])}")
        for k in ag["cohen_kappa"]["pairs"][:10]:
            lines.append(f"  Cohen's kappa {k['a']} / {k['b']}: {_fmt(k['kappa'])} (n={k['n']})")
    for aspect, block in ag.get("aspects", {}).items():
        if "alpha_interval" in block:
            lines.append(f"agreement {aspect}: alpha interval {_fmt_iv(block['alpha_interval'])}")
    if "spans" in ag:
        lines.append(f"MQM spans: F1 {_fmt(ag['spans']['span_f1'])}, severity-weighted {_fmt(ag['spans']['severity_weighted_f1'])} "
                     f"(pairs={ag['spans']['n_pairs']})")
    bt = report["ranking"].get("bradley_terry", {})
    if bt.get("systems"):
        lines.append(f"ranking (Bradley–Terry, {bt['n_comparisons']} comparisons, {bt.get('n_boot', 0)} bootstrap):")
        for r in bt["systems"]:
            lines.append(f"  {r['rank']:>3}. {r['system']:<30} {_fmt(r['score'])} [{_fmt(r['low'])}, {_fmt(r['high'])}] n={r['n']}")
    for aspect, table in report["ranking"].get("system_scores", {}).items():
        lines.append(f"system scores ({aspect}): " + ", ".join(
            f"{r['system']} {_fmt(r['mean'])} [{_fmt(r['low'])}, {_fmt(r['high'])}]" for r in table))
    pos = report["bias"].get("position")
    if pos:
        o = pos["overall"]
        lines.append(f"position bias: first shown wins {_fmt(o['rate'])} [{_fmt(o['low'])}, {_fmt(o['high'])}] "
                     f"of {o['n']} decisive, p={_fmt(o['p_value'], 4)}")
        sw = report["bias"]["swapped_repeats"]["overall"]
        if sw["n"]:
            lines.append(f"swapped repeats: preference flipped in {_fmt(sw['rate'])} [{_fmt(sw['low'])}, {_fmt(sw['high'])}] of {sw['n']} repeated pairs")
    ln = report["bias"].get("length", {}).get("overall")
    if ln:
        lines.append(f"length bias: longer wins {_fmt(ln['rate'])} [{_fmt(ln['low'])}, {_fmt(ln['high'])}] of {ln['n']}")
    j = report["judges"]
    hc = j["human_ceiling"]
    for key, block in hc.items():
        lines.append(f"human ceiling {key}: {_fmt_iv(block)}")
    for seg in j["segment"]:
        lines.append(f"judge {seg['judge']}: acc_eq {_fmt_iv(seg.get('acc_eq'))}, tau_b {_fmt_iv(seg.get('kendall_tau_b'))}, "
                     f"ECE {_fmt_iv(seg.get('calibration', {}).get('ece'))}")
    for sysl in j["system"]:
        lines.append(f"judge {sysl['judge']} (system): Pearson {_fmt_iv(sysl['pearson'])}, Kendall {_fmt_iv(sysl['kendall_tau_b'])}")
    ce = report.get("cross_elicitation")
    if ce:
        lines.append(f"cross-elicitation {ce['pairwise_study']} vs {ce['score_study']}: {ce['n_votes']} votes, "
                         f"exact agreement {_fmt_iv(ce.get('exact_agreement'))}")
    for st in report["strategies"]:
        lines.append(f"strategy {st['strategy']}: {st['judgments']} judgments on {st['units']} units")
    return "\n".join(lines) + "\n"
