"""MQM scoring (Freitag et al. 2021 weights) and span-level agreement between two
annotators' error spans. Scores are penalties: lower is better, 0 = no errors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._groups import encode


@dataclass(frozen=True)
class MQMWeights:
    """Default weights of DESIGN.md / the google wmt-mqm-human-evaluation README.
    ``critical`` is not in that scheme (their raters had no Critical level); 10 is our
    configurable default. Non-translation overrides severity; Minor punctuation is 0.1
    (Major punctuation keeps ``major``)."""

    major: float = 5.0
    minor: float = 1.0
    neutral: float = 0.0
    critical: float = 10.0
    minor_punctuation: float = 0.1
    non_translation: float = 25.0


DEFAULT_WEIGHTS = MQMWeights()
_NEUTRAL = {"neutral", "no-error", "no error", "none", ""}


def error_penalties(
    severity: np.ndarray, category: np.ndarray, weights: MQMWeights = DEFAULT_WEIGHTS
) -> np.ndarray:
    """Penalty of each annotated error row (case-insensitive labels; "No-error" rows
    count 0). Unknown severities raise instead of silently scoring 0."""
    sev_labels, sev = encode(np.asarray(severity, dtype=str))
    cat_labels, cat = encode(np.asarray(category, dtype=str))
    table = {"major": weights.major, "minor": weights.minor, "critical": weights.critical}
    sev_w = []
    for s in sev_labels:
        key = str(s).strip().lower()
        if key in table:
            sev_w.append(table[key])
        elif key in _NEUTRAL:
            sev_w.append(weights.neutral)
        else:
            raise ValueError(f"unknown MQM severity {s!r}")
    cat_norm = [str(c).strip().lower() for c in cat_labels]
    is_punct = np.array([c == "fluency/punctuation" for c in cat_norm], dtype=bool)
    is_nontr = np.array([c.rstrip("!") == "non-translation" for c in cat_norm], dtype=bool)
    is_minor = np.array([str(s).strip().lower() == "minor" for s in sev_labels], dtype=bool)
    pen = np.asarray(sev_w, dtype=float)[sev]
    pen = np.where(is_minor[sev] & is_punct[cat], weights.minor_punctuation, pen)
    return np.where(is_nontr[cat], weights.non_translation, pen)


def segment_scores(
    segment: np.ndarray, rater: np.ndarray, penalty: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(segment labels, MQM score): sum of a rater's penalties on the segment, averaged
    over the raters who rated it (a rater with only a No-error row contributes 0)."""
    segs, s = encode(segment)
    _, r = encode(rater)
    pen = np.asarray(penalty, dtype=float)
    keys, kr = np.unique(s * (int(r.max()) + 1 if r.size else 1) + r, return_inverse=True)
    per_rater = np.bincount(kr, pen, keys.size)
    seg_of_key = keys // (int(r.max()) + 1 if r.size else 1)
    n_raters = np.bincount(seg_of_key, minlength=segs.size)
    total = np.bincount(seg_of_key, per_rater, segs.size)
    return segs, total / n_raters


def system_scores(
    system: np.ndarray, segment: np.ndarray, rater: np.ndarray, penalty: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(system labels, MQM score) = mean over the system's segments of segment_scores;
    ``segment`` identifies the source segment (shared across systems)."""
    systems, sy = encode(system)
    _, sg = encode(segment)
    key = sy * (int(sg.max()) + 1 if sg.size else 1) + sg
    keys, seg_score = segment_scores(key, rater, penalty)
    sys_of_key = keys // (int(sg.max()) + 1 if sg.size else 1)
    n_seg = np.bincount(sys_of_key, minlength=systems.size)
    return systems, np.bincount(sys_of_key, seg_score, systems.size) / n_seg


@dataclass(frozen=True, eq=False)
class Spans:
    """Error spans of one annotator: character offsets [start, end) inside the text of
    ``segment`` (any label; use distinct labels for source-side and target-side spans),
    with an optional penalty per span (e.g. from ``error_penalties``)."""

    segment: np.ndarray
    start: np.ndarray
    end: np.ndarray
    weight: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class SpanAgreement:
    precision: float
    recall: float
    f1: float


def _chars(spans: Spans, seg_codes: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(unique char keys, max weight per char) covered by the spans."""
    start = np.asarray(spans.start, dtype=np.int64)
    end = np.asarray(spans.end, dtype=np.int64)
    length = np.maximum(end - start, 0)
    w = np.ones(start.size) if spans.weight is None else np.asarray(spans.weight, dtype=float)
    offs = np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length)
    key = np.repeat(seg_codes * width + start, length) + offs
    cw = np.repeat(w, length)
    order = np.lexsort((cw, key))
    key, cw = key[order], cw[order]
    last = np.r_[key[1:] != key[:-1], True] if key.size else np.zeros(0, dtype=bool)
    return key[last], cw[last]


def _both(a: Spans, b: Spans):
    _, codes = encode(np.concatenate([np.asarray(a.segment), np.asarray(b.segment)]))
    n = np.asarray(a.segment).size
    width = int(max(np.max(a.end, initial=0), np.max(b.end, initial=0))) + 1
    ka, wa = _chars(a, codes[:n], width)
    kb, wb = _chars(b, codes[n:], width)
    _, ia, ib = np.intersect1d(ka, kb, assume_unique=True, return_indices=True)
    return wa, wb, ia, ib


def _prf(matched: float, total_a: float, total_b: float) -> SpanAgreement:
    p = matched / total_a if total_a > 0 else float("nan")
    r = matched / total_b if total_b > 0 else float("nan")
    f = 2 * matched / (total_a + total_b) if total_a + total_b > 0 else float("nan")
    return SpanAgreement(float(p), float(r), float(f))


def span_f1(a: Spans, b: Spans, same_severity: bool = False) -> SpanAgreement:
    """Character-overlap agreement of annotator ``a`` against ``b``: precision = share of
    a's marked characters that b also marked, recall the converse. With
    ``same_severity`` a character only matches when both gave it the same weight
    (overlapping spans of one annotator: the heavier one counts)."""
    wa, wb, ia, ib = _both(a, b)
    hit = np.ones(ia.size, dtype=bool) if not same_severity else wa[ia] == wb[ib]
    return _prf(float(hit.sum()), float(wa.size), float(wb.size))


def severity_weighted_f1(a: Spans, b: Spans) -> SpanAgreement:
    """Like span_f1 but each character carries its penalty: matched mass is
    sum min(w_a, w_b), so marking a Major error as Minor earns 1 of 5 points."""
    wa, wb, ia, ib = _both(a, b)
    matched = float(np.minimum(wa[ia], wb[ib]).sum())
    return _prf(matched, float(wa.sum()), float(wb.sum()))
