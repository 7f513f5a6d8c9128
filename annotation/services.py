"""Writes: creating studies, importing items, joining, submitting judgments.

Every service is atomic: bad input raises Invalid naming what is wrong, and nothing is saved.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import re
from collections.abc import Iterable, Mapping
from itertools import islice
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from annotation import counters
from annotation.errors import Conflict, Invalid, NotAllowed, NotFound
from annotation.models import Annotation, Assignment, Candidate, Item, Study, StudyMembership, Unit
from annotation.quality import qc_record
from annotation.spec import SpecError, parse_spec
from annotation.task_types import CandidateView, ConfigError, ResponseError, UnitContent, get_task_type
from annotation.selectors import prompt_text, unit_content
from exports.formats import FormatError, ItemRecord, all_importers, all_judgment_importers, get_importer

IMPORT_BATCH = 1000


def study_create(*, owner, spec: Any) -> Study:
    try:
        clean = parse_spec(spec)
    except SpecError as exc:
        raise Invalid(str(exc), {exc.field: exc.message}) from None
    if Study.objects.filter(slug=clean["slug"]).exists():
        raise Invalid(f"slug: a study named {clean['slug']!r} already exists", {"slug": "already taken"})
    strategy = clean.pop("strategy")
    with transaction.atomic():
        study = Study.objects.create(owner=owner, strategy=strategy["name"], strategy_params=strategy["params"], **clean)
        StudyMembership.objects.create(study=study, user=owner, role=StudyMembership.Role.RESEARCHER)
    return study


def study_update(*, study: Study, changes: Mapping[str, Any]) -> Study:
    """Change a study's protocol. The task type and slug are fixed once items exist."""
    spec = {**study.spec(), **changes}
    if study.items.exists() and (spec["task_type"] != study.task_type or spec["task_config"] != study.task_config):
        raise Invalid("task_type: cannot change the task type or its config once items are uploaded", {"task_type": "fixed once items exist"})
    if spec["slug"] != study.slug:
        raise Invalid("slug: a study's slug cannot change", {"slug": "cannot change"})
    try:
        clean = parse_spec(spec)
    except SpecError as exc:
        raise Invalid(str(exc), {exc.field: exc.message}) from None
    strategy = clean.pop("strategy")
    for key, value in clean.items():
        setattr(study, key, value)
    study.strategy, study.strategy_params = strategy["name"], strategy["params"]
    # Only the protocol: counters kept by other services (n_units) are not this instance's to write.
    study.save(update_fields=[*clean, "strategy", "strategy_params", "updated_at"])
    return study


def study_set_status(*, study: Study, status: str) -> Study:
    return study_update(study=study, changes={"status": status})


def membership_add(*, study: Study, user, role: str) -> StudyMembership:
    membership, created = StudyMembership.objects.get_or_create(study=study, user=user, defaults={"role": role})
    if not created and membership.role != role and study.owner_id != user.id:
        # Someone invited as researcher stays researcher; never demote silently.
        if role == StudyMembership.Role.RESEARCHER:
            membership.role = role
            membership.save(update_fields=["role"])
    return membership


def study_join(*, token: str, user) -> Study:
    study = Study.objects.filter(invite_token=token).first()
    if study is None:
        raise NotFound("This invite link is not valid (it may have been replaced).")
    if study.status == Study.Status.CLOSED:
        raise NotAllowed("This study is closed.")
    role = StudyMembership.objects.filter(study=study, user=user).values_list("role", flat=True).first()
    if role is None and study.owner_id != user.id:
        StudyMembership.objects.create(study=study, user=user, role=StudyMembership.Role.ANNOTATOR)
    return study


def study_reset_invite(*, study: Study) -> Study:
    from annotation.models import new_invite_token

    study.invite_token = new_invite_token()
    study.save(update_fields=["invite_token"])
    return study


def _create_items(study: Study, batch: list[ItemRecord]) -> list[tuple[Item, list[int]]]:
    """Create items, candidates and units; return each item with its candidate ids."""
    task_type = get_task_type(study.task_type)
    for record in batch:
        try:
            task_type.check_item(study.task_config, record.meta)
        except ConfigError as exc:
            raise FormatError(record.line, exc.field, exc.message) from None
    taken = set(Item.objects.filter(study=study, external_id__in=[r.id for r in batch]).values_list("external_id", flat=True))
    for record in batch:
        if record.id in taken:
            raise FormatError(record.line, "id", f"item id {record.id!r} already exists in this study")
    items = Item.objects.bulk_create(
        Item(
            study=study,
            external_id=r.id,
            prompt=r.prompt,
            reference=r.reference,
            doc_id=r.doc_id,
            seg_id=r.seg_id,
            meta=dict(r.meta),
        )
        for r in batch
    )
    candidates = Candidate.objects.bulk_create(
        Candidate(item=item, system=c.system, text=c.text, judges=dict(c.judges), position=pos)
        for item, record in zip(items, batch, strict=True)
        for pos, c in enumerate(record.candidates)
    )
    by_item: dict[int, list[int]] = {}
    for cand in candidates:
        by_item.setdefault(cand.item_id, []).append(cand.id)
    units = []
    for item, record in zip(items, batch, strict=True):
        groups = task_type.unit_candidates(study.task_config, by_item[item.id])
        if not groups:
            raise FormatError(record.line, "candidates", f"a {study.task_type} unit needs more candidates than this item has")
        if "gold" in record.meta:
            units.append(_gold_unit(study, task_type, item, record, groups, by_item[item.id]))
            continue
        units += [Unit(study=study, item=item, candidate_ids=list(g), rand=random.random()) for g in groups]
    Unit.objects.bulk_create(units, batch_size=IMPORT_BATCH)
    regular = sum(1 for unit in units if unit.kind == Unit.Kind.REGULAR)
    Study.objects.filter(pk=study.pk).update(n_units=F("n_units") + regular)
    return [(item, by_item[item.id]) for item in items]


def _gold_unit(study, task_type, item, record, groups, candidate_ids) -> Unit:
    """An item with `meta.gold` becomes one gold unit: served to every annotator at the
    study's gold rate, scored against the known answer, kept out of exports."""
    if len(groups) != 1:
        raise FormatError(record.line, "meta.gold", "a gold item must make exactly one unit (e.g. two candidates for a pair)")
    systems = {c.system: cid for c, cid in zip(record.candidates, candidate_ids, strict=True)}
    try:
        expected = task_type.parse_gold(study.task_config, record.meta["gold"], systems)
    except ConfigError as exc:
        raise FormatError(record.line, exc.field, exc.message) from None
    # A gold answer must itself be a valid response to its unit.
    content = UnitContent(
        item_id=item.id,
        candidates=tuple(CandidateView(cid, c.system, c.text) for c, cid in zip(record.candidates, candidate_ids, strict=True)),
        source=prompt_text(record.prompt),
        meta=record.meta,
    )
    try:
        expected = task_type.validate_response(study.task_config, content, expected)
    except ResponseError as exc:
        field, message = next(iter(exc.errors.items()))
        raise FormatError(record.line, f"meta.gold.{field}", message) from None
    return Unit(study=study, item=item, candidate_ids=list(groups[0]), kind=Unit.Kind.GOLD, gold=expected, rand=random.random())


def items_import(*, study: Study, lines: Iterable[str], format_name: str = "jsonl") -> dict[str, int]:
    """Import items all-or-nothing; the first bad row raises Invalid naming line and field."""
    try:
        importer = get_importer(format_name)
    except KeyError as exc:
        raise Invalid(str(exc.args[0]), {"format": "unknown format"}) from None
    items = 0
    try:
        with transaction.atomic():
            records = importer.parse(lines)
            while batch := list(islice(records, IMPORT_BATCH)):
                if items + len(batch) > settings.MAX_IMPORT_ROWS:
                    raise FormatError(batch[-1].line, "file", f"more than {settings.MAX_IMPORT_ROWS} items in one upload")
                _create_items(study, batch)
                items += len(batch)
            if items == 0:
                raise FormatError(None, "file", "no items found (the file is empty)")
    except FormatError as exc:
        where = f"line {exc.line}, {exc.field}" if exc.line is not None else exc.field
        raise Invalid(f"{exc} (nothing was imported)", {where: exc.message}) from None
    except UnicodeDecodeError as exc:
        raise Invalid(f"file: not UTF-8 text ({exc.reason} at byte {exc.start}); nothing was imported", {"file": "not UTF-8"}) from None
    units = Unit.objects.filter(study=study).count()
    return {"items": items, "units_in_study": units}


def annotation_submit(
    *,
    assignment_id: int,
    user,
    response: Any,
    idempotency_key: str,
    duration_ms: int | None = None,
) -> tuple[Annotation, bool]:
    """Store one judgment. Returns (annotation, created). A repeat with the same idempotency
    key returns the stored annotation; a different judgment for a submitted unit is refused."""
    if not idempotency_key or len(idempotency_key) > 64:
        raise Invalid("idempotency_key: required, at most 64 characters", {"idempotency_key": "required, at most 64 characters"})
    if duration_ms is not None and (isinstance(duration_ms, bool) or not isinstance(duration_ms, int) or not 0 <= duration_ms < 10**9):
        raise Invalid("duration_ms: must be a whole number of milliseconds", {"duration_ms": "must be a non-negative integer"})
    try:
        with transaction.atomic():
            return _submit_locked(assignment_id, user, response, idempotency_key, duration_ms)
    except IntegrityError:
        # The key is taken: a retry that raced in (the first one won: return it), or a key
        # the client already used for another unit.
        existing = Annotation.objects.filter(annotator=user, idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        if existing.assignment_id != assignment_id:
            raise Conflict("idempotency_key: this key was already used for another unit") from None
        return existing, False


def _submit_locked(assignment_id, user, response, idempotency_key, duration_ms) -> tuple[Annotation, bool]:
    assignment = (
        Assignment.objects.select_for_update(of=("self",))  # lock only the lease, not the study row
        .select_related("study", "unit__item")
        .filter(pk=assignment_id, annotator=user)
        .first()
    )
    if assignment is None:
        raise NotFound("assignment: you do not hold this unit")
    if assignment.status == Assignment.Status.SUBMITTED:
        # A retry with the same key (the first one won: return it), or another judgment.
        stored = Annotation.objects.filter(annotator=user, idempotency_key=idempotency_key, assignment=assignment).first()
        if stored is not None:
            return stored, False
        raise Conflict("assignment: this unit was already submitted (with another idempotency key)")
    study = assignment.study
    task_type = get_task_type(study.task_type)
    try:
        clean = task_type.validate_response(study.task_config, unit_content(assignment), response)
    except ResponseError as exc:
        raise Invalid(f"response does not fit the {study.task_type} task: {exc}", {f"response.{k}": v for k, v in exc.errors.items()}) from None
    now = timezone.now()
    unit = assignment.unit
    if assignment.status == Assignment.Status.EXPIRED:
        # The lease ran out but the work was done: keep it if the unit still has room.
        if not Unit.objects.filter(pk=unit.pk, n_taken__lt=study.redundancy).update(n_taken=F("n_taken") + 1):
            raise Conflict("assignment: your lease expired and the unit has meanwhile been fully judged")
    Assignment.objects.filter(pk=assignment.pk).update(status=Assignment.Status.SUBMITTED, submitted_at=now)
    counters.add(Unit, {"id": unit.pk}, n_done=1)
    passed = qc_record(study=study, unit=unit, user=user, response=clean)
    annotation = Annotation.objects.create(
        qc_passed=passed,
        study=study,
        unit_id=unit.pk,
        item_id=unit.item_id,
        assignment=assignment,
        annotator=user,
        response=clean,
        display_order=assignment.display_order,
        strategy=assignment.strategy,
        propensity=assignment.propensity,
        idempotency_key=idempotency_key,
        shown_at=assignment.created_at,
        duration_ms=duration_ms,
    )
    # The progress counters (what the annotator page and the quota read, instead of counting).
    regular = int(unit.kind == Unit.Kind.REGULAR)
    counters.add(StudyMembership, {"study_id": study.pk, "user_id": user.pk}, n_judged=1, n_regular=regular)
    return annotation, True


CROWD_PARAMS = {
    # platform -> (worker id parameter, session parameter): the session must match on re-entry,
    # so knowing a worker's id alone is not enough to act as that worker.
    "prolific": ("PROLIFIC_PID", "SESSION_ID"),
    "mturk": ("workerId", "assignmentId"),
}
WORKER_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,100}")  # used with fullmatch: no trailing newline


def crowd_enter(*, token: str, params: Mapping[str, str]):
    """A crowd worker arrives through the study's entry link: return (study, user), creating
    a pseudonymous annotator on first entry. Raises NotFound/NotAllowed/Invalid."""
    from django.contrib.auth import get_user_model

    study = Study.objects.filter(invite_token=token).first()
    if study is None or not study.crowd.get("platform"):
        raise NotFound("This entry link is not valid.")
    if study.status != Study.Status.LIVE:
        raise NotAllowed(f"This study is {study.status}.")
    platform = study.crowd["platform"]
    id_param, session_param = CROWD_PARAMS[platform]
    worker_id, session = params.get(id_param, ""), params.get(session_param, "")
    for name, value in ((id_param, worker_id), (session_param, session)):
        if not WORKER_ID_RE.fullmatch(value or ""):
            raise Invalid(f"{name}: missing or malformed in the entry link", {name: "missing or malformed"})
    with transaction.atomic():
        membership = StudyMembership.objects.select_for_update().filter(study=study, platform=platform, worker_id=worker_id).first()
        if membership is not None:
            if membership.platform_session != session:
                raise NotAllowed(f"This {platform} id is already taking part in another session.")
            return study, membership.user
        digest = hmac.new(settings.SECRET_KEY.encode(), f"{study.pk}:{platform}:{worker_id}".encode(), hashlib.sha256).hexdigest()[:20]
        user = get_user_model().objects.create_user(username=f"{platform}-{digest}")  # no password: link entry only
        StudyMembership.objects.create(
            study=study, user=user, role=StudyMembership.Role.ANNOTATOR, platform=platform, worker_id=worker_id, platform_session=session
        )
        return study, user


def _import_users(study: Study, raters: set[str], cache: dict[str, Any]) -> None:
    """The pseudonymous annotators standing for raters of imported judgments (into `cache`)."""
    from django.contrib.auth import get_user_model

    missing = raters - set(cache)
    for membership in StudyMembership.objects.filter(study=study, platform="import", worker_id__in=missing).select_related("user"):
        cache[membership.worker_id] = membership.user
    for rater in sorted(raters - set(cache)):
        digest = hashlib.sha256(f"{study.pk}:{rater}".encode()).hexdigest()[:12]
        user = get_user_model().objects.create_user(username=f"import-{digest}")
        StudyMembership.objects.create(study=study, user=user, role=StudyMembership.Role.ANNOTATOR, platform="import", worker_id=rater[:100])
        cache[rater] = user


def _store_judgments(study: Study, task_type, judged, created, mode: str, counts: dict, users: dict) -> None:
    unit_ids = [item.id for item, _ in created]
    units_of: dict[int, dict[frozenset, Unit]] = {}
    for unit in Unit.objects.filter(item_id__in=unit_ids):
        units_of.setdefault(unit.item_id, {})[frozenset(unit.candidate_ids)] = unit
    if mode == "annotations":
        _import_users(study, {j.rater for segment in judged for j in segment.judgments}, users)
    pending: list[tuple[Unit, Item, Any, dict]] = []
    for segment, (item, candidate_ids) in zip(judged, created, strict=True):
        systems = {c.system: cid for c, cid in zip(segment.item.candidates, candidate_ids, strict=True)}
        views = {cid: CandidateView(cid, c.system, c.text) for c, cid in zip(segment.item.candidates, candidate_ids, strict=True)}
        for judgment in segment.judgments:
            names = getattr(judgment, "systems", None) or (judgment.system,)
            unit = units_of.get(item.id, {}).get(frozenset(systems[n] for n in names))
            if unit is None:
                raise FormatError(judgment.line, "system", f"no unit of item {item.external_id!r} shows {', '.join(names)}")
            content = UnitContent(
                item_id=item.id,
                candidates=tuple(views[cid] for cid in unit.candidate_ids),
                source=prompt_text(segment.item.prompt),
                meta=segment.item.meta,
            )
            try:
                clean = task_type.validate_response(study.task_config, content, task_type.parse_gold(study.task_config, judgment.response(), systems))
            except ConfigError as exc:
                raise FormatError(judgment.line, exc.field, exc.message) from None
            except ResponseError as exc:
                field, message = next(iter(exc.errors.items()))
                raise FormatError(judgment.line, field, message) from None
            if mode == "gold":
                if unit.kind == Unit.Kind.GOLD:
                    counts["judgments_skipped"] += 1  # one gold answer per unit: the first
                    continue
                unit.kind, unit.gold = Unit.Kind.GOLD, clean
                unit.save(update_fields=["kind", "gold"])
                Study.objects.filter(pk=study.pk).update(n_units=F("n_units") - 1)
                counts["gold_units"] += 1
            else:
                pending.append((unit, item, users[judgment.rater], clean))
    _save_imported(study, pending, counts)


def _save_imported(study: Study, pending: list, counts: dict) -> None:
    """Store imported judgments (unit, item, user, clean response[, display order]) as
    submitted assignments and annotations, and count them on units and raters."""
    if not pending:
        return
    now = timezone.now()
    orders = [entry[4] if len(entry) > 4 and entry[4] else list(entry[0].candidate_ids) for entry in pending]
    assignments = Assignment.objects.bulk_create(
        Assignment(study=study, unit=entry[0], annotator=entry[2], status=Assignment.Status.SUBMITTED, strategy="import",
                   propensity=1.0, display_order=order, expires_at=now, submitted_at=now)
        for entry, order in zip(pending, orders, strict=True)
    )
    Annotation.objects.bulk_create(
        Annotation(study=study, unit=entry[0], item=entry[1], assignment=assignment, annotator=entry[2], response=entry[3],
                   display_order=order, strategy="import", propensity=1.0,
                   idempotency_key=f"import-{assignment.pk}", shown_at=now)
        for entry, assignment, order in zip(pending, assignments, orders, strict=True)
    )
    pending = [entry[:4] for entry in pending]
    per_unit: dict[int, int] = {}
    for unit, *_ in pending:
        per_unit[unit.pk] = per_unit.get(unit.pk, 0) + 1
    by_count: dict[int, list[int]] = {}
    for pk, n in per_unit.items():
        by_count.setdefault(n, []).append(pk)
    for n, pks in by_count.items():
        Unit.objects.filter(pk__in=pks).update(n_done=F("n_done") + n, n_taken=F("n_taken") + n)
    per_rater: dict[int, list[int]] = {}
    for unit, _, user, _ in pending:
        tally = per_rater.setdefault(user.pk, [0, 0])
        tally[0] += 1
        tally[1] += unit.kind == Unit.Kind.REGULAR
    for user_id, (judged, regular) in per_rater.items():
        StudyMembership.objects.filter(study=study, user_id=user_id).update(
            n_judged=F("n_judged") + judged, n_regular=F("n_regular") + regular
        )
    counts["judgments"] += len(pending)


def _attach_judgments(study: Study, task_type, batch: list, counts: dict, users: dict, seen: dict) -> None:
    """Judgments (JudgmentRecord, systems named) of items already in the study: each finds
    its unit(s), is validated by the task type and stored; a rater judges a unit once."""
    config = study.task_config
    items = {item.external_id: item for item in Item.objects.filter(study=study, external_id__in={r.item_id for r in batch})}
    systems_of: dict[int, dict[str, CandidateView]] = {}
    for cid, item_id, system, text in Candidate.objects.filter(item__in=items.values()).values_list("id", "item_id", "system", "text"):
        systems_of.setdefault(item_id, {})[system] = CandidateView(cid, system, text)
    units_of: dict[int, list[Unit]] = {}
    for unit in Unit.objects.filter(item__in=items.values(), kind=Unit.Kind.REGULAR):
        units_of.setdefault(unit.item_id, []).append(unit)
    _import_users(study, {r.rater for r in batch}, users)
    held = set(
        Assignment.objects.filter(unit__item__in=items.values(), annotator__in=[users[r] for r in {r.rater for r in batch}])
        .values_list("unit_id", "annotator_id")
    )
    pending: list = []
    for record in batch:
        item = items.get(record.item_id)
        if item is None:
            raise FormatError(record.line, "item_id", f"no item {record.item_id!r} in this study (import the items first)")
        views = systems_of.get(item.id, {})
        for name in record.systems:
            if name not in views:
                raise FormatError(record.lines.get(name, record.line), "system" if record.lines else "system_a",
                                  f"item {record.item_id!r} has no candidate from {name!r} (it has: {', '.join(sorted(views))})")
        ids = {views[name].id for name in record.systems}
        if "scores" in record.answer:
            units = [u for u in units_of.get(item.id, []) if set(u.candidate_ids) <= ids]
            missing = ids - {cid for u in units for cid in u.candidate_ids}
            if missing:
                name = next(n for n in record.systems if views[n].id in missing)
                raise FormatError(record.lines.get(name, record.line), "system", f"no unit of item {record.item_id!r} shows {name!r} "
                                  "with only the systems this annotator scored")
        else:
            units = [u for u in units_of.get(item.id, []) if set(u.candidate_ids) == ids]
            if not units:
                raise FormatError(record.line, "system_b", f"no unit of item {record.item_id!r} shows {' and '.join(record.systems)}")
        user = users[record.rater]
        by_id = {v.id: v for v in views.values()}
        for unit in units:
            content = UnitContent(item_id=item.id, candidates=tuple(by_id[c] for c in unit.candidate_ids), source=prompt_text(item.prompt), meta=item.meta)
            try:
                if "scores" in record.answer:
                    scores = {views[n].id: record.answer["scores"][n] for n in record.systems if views[n].id in unit.candidate_ids}
                    response = task_type.response_from_scores(config, item.meta, scores)
                else:
                    response = task_type.parse_gold(config, record.answer, {n: v.id for n, v in views.items()})
                clean = task_type.validate_response(config, content, response)
            except ConfigError as exc:
                raise FormatError(record.line, exc.field, exc.message) from None
            except ResponseError as exc:
                field, message = next(iter(exc.errors.items()))
                raise FormatError(record.line, field, message) from None
            key = (unit.pk, user.pk)
            if key in seen:
                raise FormatError(record.line, "rater", f"{record.rater!r} already judged this unit of item {record.item_id!r} on line {seen[key]}")
            if key in held:
                raise FormatError(record.line, "rater", f"{record.rater!r} already has a judgment of this unit of item {record.item_id!r} "
                                  "in the study (imported before?)")
            seen[key] = record.line
            order = None
            if record.first_shown:
                first = views[record.first_shown].id
                order = [first, *[c for c in unit.candidate_ids if c != first]]
            pending.append((unit, item, user, clean, order))
    _save_imported(study, pending, counts)


def judgments_import(*, study: Study, lines: Iterable[str], format_name: str, mode: str = "annotations", options: Mapping[str, Any] | None = None) -> dict[str, int]:
    """Import judgments made elsewhere, all or nothing: items together with their judgments
    (e.g. an MQM TSV), as annotations by pseudonymous raters or as the gold answers of their
    units; or judgments of items already in the study (pairwise-labels, pairwise-judgments,
    scores-long), as annotations."""
    if mode not in ("annotations", "gold"):
        raise Invalid('mode: must be "annotations" or "gold"', {"mode": "must be annotations or gold"})
    importer = all_judgment_importers().get(format_name)
    try:
        importer = importer or get_importer(format_name)
    except KeyError:
        known = ", ".join(sorted([*all_judgment_importers(), *(n for n, i in all_importers().items() if hasattr(i, "parse_segments"))]))
        raise Invalid(f"format: unknown judgment format {format_name!r}; available: {known}", {"format": "unknown format"}) from None
    of_items = hasattr(importer, "parse_judgments")  # judgments of items already in the study
    if not hasattr(importer, "parse_segments") and not of_items:
        raise Invalid(f"format: {format_name} carries no judgments; import it as items", {"format": "carries no judgments"})
    if of_items and study.task_type not in importer.task_types:
        raise Invalid(f"format: {format_name} imports {' and '.join(importer.task_types)} judgments, not {study.task_type}",
                      {"format": f"not for {study.task_type} studies"})
    if of_items and mode != "annotations":
        raise Invalid(f"mode: {format_name} judgments are imported as annotations", {"mode": "must be annotations"})
    try:
        importer = type(importer)(**(options or {}))
    except (TypeError, ValueError) as exc:
        raise Invalid(f"options: {exc}", {"options": str(exc)}) from None
    task_type = get_task_type(study.task_type)
    counts = {"items": 0, "judgments": 0, "gold_units": 0, "judgments_skipped": 0}
    users: dict[str, Any] = {}
    if of_items:
        return _judgments_of_items_import(study, task_type, importer, lines, counts, users)
    try:
        with transaction.atomic():
            segments = check_unique_ids_of(importer.parse_segments(lines))
            while batch := list(islice(segments, IMPORT_BATCH)):
                created = _create_items(study, [s.item for s in batch])
                _store_judgments(study, task_type, batch, created, mode, counts, users)
                counts["items"] += len(batch)
            if counts["items"] == 0:
                raise FormatError(None, "file", "no items found (the file is empty)")
    except FormatError as exc:
        where = f"line {exc.line}, {exc.field}" if exc.line is not None else exc.field
        raise Invalid(f"{exc} (nothing was imported)", {where: exc.message}) from None
    return {key: value for key, value in counts.items() if value or key in ("items", "judgments")}


def _judgments_of_items_import(study: Study, task_type, importer, lines: Iterable[str], counts: dict, users: dict) -> dict[str, int]:
    seen: dict[tuple[int, int], int] = {}
    rows = 0
    try:
        with transaction.atomic():
            records = importer.parse_judgments(lines)
            while batch := list(islice(records, IMPORT_BATCH)):
                rows += len(batch)
                if rows > settings.MAX_IMPORT_ROWS:
                    raise FormatError(batch[-1].line, "file", f"more than {settings.MAX_IMPORT_ROWS} judgments in one upload")
                _attach_judgments(study, task_type, batch, counts, users, seen)
            if counts["judgments"] == 0:
                raise FormatError(None, "file", "no judgments found (the file is empty)")
    except FormatError as exc:
        where = f"line {exc.line}, {exc.field}" if exc.line is not None else exc.field
        raise Invalid(f"{exc} (nothing was imported)", {where: exc.message}) from None
    except UnicodeDecodeError as exc:
        raise Invalid(f"file: not UTF-8 text ({exc.reason} at byte {exc.start}); nothing was imported", {"file": "not UTF-8"}) from None
    return {"judgments": counts["judgments"], "raters": len(users)}


def check_unique_ids_of(segments):
    seen: dict[str, int] = {}
    for segment in segments:
        if segment.item.id in seen:
            raise FormatError(segment.item.line, "id", f"item id {segment.item.id!r} already used on line {seen[segment.item.id]}")
        seen[segment.item.id] = segment.item.line
        yield segment
