"""Streaming reads for exports: judgments as AnnotationRow, ordered by item, then unit, then
id, through a server-side cursor on PostgreSQL, so memory does not grow with the study.

The annotation query carries no item text: items and candidates are fetched once per chunk of
annotations (two queries per chunk, whatever its size), since the judgments of one item
arrive together and an item's prompt and candidates are shared by all of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

from annotation.models import Annotation, Candidate, Item, Study, StudyMembership
from annotation.task_types import get_task_type
from exports.formats import AnnotationRow, CandidateRow

CHUNK = 5000

ANNOTATION_FIELDS = (
    "id", "unit_id", "item_id", "annotator_id", "response", "display_order", "strategy", "propensity",
    "submitted_at", "duration_ms", "revision", "unit__candidate_ids", "unit__kind",
)


def annotation_rows(study: Study, *, chunk_size: int = CHUNK) -> Iterator[AnnotationRow]:
    task_type = get_task_type(study.task_type)
    config = study.task_config
    records = task_type.records
    excluded = set(StudyMembership.objects.filter(study=study, excluded=True).values_list("user_id", flat=True))
    annotations = (
        Annotation.objects.filter(study=study).order_by("item_id", "unit_id", "id").values_list(*ANNOTATION_FIELDS).iterator(chunk_size=chunk_size)
    )
    items: dict[int, tuple] = {}
    candidates: dict[int, dict[int, CandidateRow]] = {}  # item pk -> candidate id -> candidate
    unit_key, unit_candidates = None, ()
    while chunk := list(islice(annotations, chunk_size)):
        wanted = {row[2] for row in chunk}
        missing = wanted - items.keys()
        # keep only the item that continues from the last chunk: memory stays one chunk's worth
        items = {pk: items[pk] for pk in wanted & items.keys()}
        candidates = {pk: candidates[pk] for pk in items}
        if missing:
            for pk, *fields in Item.objects.filter(pk__in=missing).values_list(
                "pk", "external_id", "prompt", "reference", "doc_id", "seg_id", "meta"
            ):
                items[pk] = tuple(fields)
                candidates[pk] = {}
            for cid, item_pk, system, text, judges in Candidate.objects.filter(item_id__in=missing).values_list(
                "id", "item_id", "system", "text", "judges"
            ):
                candidates[item_pk][cid] = CandidateRow(cid, system, text, judges)
        for (ann_id, unit_id, item_pk, annotator_id, response, display_order, strategy, propensity, submitted_at,
             duration_ms, revision, cand_ids, kind) in chunk:
            external_id, prompt, reference, doc_id, seg_id, meta = items[item_pk]
            if unit_id != unit_key:  # the judgments of one unit share one tuple of candidates
                of_item = candidates[item_pk]
                unit_key, unit_candidates = unit_id, tuple(of_item[c] for c in cand_ids)
            yield AnnotationRow(
                annotation_id=ann_id,
                unit_id=unit_id,
                item_id=external_id,
                prompt=prompt,
                candidates=unit_candidates,
                display_order=tuple(display_order),
                annotator=f"a{annotator_id}",
                response=response,
                records=records(config, cand_ids, response),
                strategy=strategy,
                propensity=propensity,
                submitted_at=submitted_at.isoformat(),
                duration_ms=duration_ms,
                revision=revision,
                reference=reference,
                doc_id=doc_id,
                seg_id=seg_id,
                meta=meta,
                unit_kind=kind,
                annotator_excluded=annotator_id in excluded,
            )
