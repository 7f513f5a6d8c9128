"""Streaming reads for exports: judgments as AnnotationRow, ordered by unit, with a
server-side cursor on PostgreSQL so memory does not grow with the study."""

from __future__ import annotations

from collections.abc import Iterator

from annotation.models import Annotation, Candidate, Study
from annotation.task_types import get_task_type
from exports.formats import AnnotationRow, CandidateRow

CHUNK = 2000


def annotation_rows(study: Study) -> Iterator[AnnotationRow]:
    task_type = get_task_type(study.task_type)
    annotations = (
        Annotation.objects.filter(study=study)
        .order_by("unit_id", "id")
        .values_list(
            "id", "unit_id", "unit__candidate_ids", "item_id", "item__external_id", "item__prompt", "item__reference",
            "item__doc_id", "item__seg_id", "item__meta", "annotator_id", "response", "display_order", "strategy",
            "propensity", "submitted_at", "duration_ms", "revision",
        )
    )
    cache_item, cache_cands = None, {}
    for row in annotations.iterator(chunk_size=CHUNK):
        (ann_id, unit_id, cand_ids, item_pk, item_id, prompt, reference, doc_id, seg_id, meta, annotator_id, response,
         display_order, strategy, propensity, submitted_at, duration_ms, revision) = row
        if item_pk != cache_item:  # judgments of one unit (and usually one item) arrive together
            cache_item = item_pk
            cache_cands = {
                c[0]: CandidateRow(*c) for c in Candidate.objects.filter(item_id=item_pk).values_list("id", "system", "text", "judges")
            }
        candidates = tuple(cache_cands[c] for c in cand_ids)
        yield AnnotationRow(
            annotation_id=ann_id,
            unit_id=unit_id,
            item_id=item_id,
            prompt=prompt,
            candidates=candidates,
            display_order=tuple(display_order),
            annotator=f"a{annotator_id}",
            response=response,
            records=task_type.records(study.task_config, cand_ids, response),
            strategy=strategy,
            propensity=propensity,
            submitted_at=submitted_at.isoformat(),
            duration_ms=duration_ms,
            revision=revision,
            reference=reference,
            doc_id=doc_id,
            seg_id=seg_id,
            meta=meta,
        )
