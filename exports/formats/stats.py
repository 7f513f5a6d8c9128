"""Agreement and bias figures for the dataset card, gathered while the rows stream by: each
accumulator keeps a few numbers (or a few counts per outcome), never the rows.

- pairwise judgments (overall choice, not per-aspect): tie-aware pairwise agreement (share of
  annotator pairs on a unit giving the same outcome, tie and "both bad" outcomes of their own),
  Krippendorff's alpha (nominal) over the same outcomes, position bias (first-shown candidate's
  win rate among decisive judgments, Wilson interval, binomial test against 1/2), length bias
  (longer candidate's win rate).
- scores: Krippendorff's alpha (interval) per aspect over the annotators of each
  (unit, candidate), from running sums: sum over units of 2(m S2 - S1^2)/(m-1) against
  2(n T2 - T1^2), which is the coincidence-matrix formula for the squared difference.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator

from exports.formats.base import AnnotationRow
from prefstats.proportions import binom_test, wilson_interval


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def nominal_alpha(coincidence: dict[tuple[str, str], float]) -> float | None:
    n_c: Counter = Counter()
    for (c, _), weight in coincidence.items():
        n_c[c] += weight
    n = sum(n_c.values())
    if n < 2:
        return None
    observed = sum(w for (c, k), w in coincidence.items() if c != k)
    expected = sum(n_c[c] * n_c[k] for c in n_c for k in n_c if c != k) / (n - 1.0)
    return None if expected == 0 else 1.0 - observed / expected


class _Interval:
    """Krippendorff's alpha (interval) from running sums over groups of >= 2 values."""

    def __init__(self) -> None:
        self.within = 0.0  # sum over groups of sum_{i != j} (v_i - v_j)^2 / (m - 1)
        self.n = 0
        self.t1 = 0.0
        self.t2 = 0.0

    def add(self, values: list[float]) -> None:
        m = len(values)
        if m < 2:
            return
        s1 = sum(values)
        s2 = sum(v * v for v in values)
        self.within += 2.0 * (m * s2 - s1 * s1) / (m - 1)
        self.n += m
        self.t1 += s1
        self.t2 += s2

    def alpha(self) -> float | None:
        total = 2.0 * (self.n * self.t2 - self.t1 * self.t1)
        if self.n < 2 or total <= 1e-12 * max(1.0, self.t2):
            return None
        return 1.0 - (self.n - 1) * self.within / total


class StreamStats:
    def __init__(self) -> None:
        self.judgments = 0
        self.units = 0
        self.items = 0
        self.annotators: set[str] = set()
        self._last_item: str | None = None
        # how many units had each vote pattern, e.g. (("a", 2), ("tie", 1)): agreement and the
        # coincidence matrix follow from the patterns at the end (few, whatever the study size)
        self.patterns: dict[tuple[tuple[str, int], ...], int] = defaultdict(int)
        self.decisive = 0
        self.first_won = 0
        self.length_decisive = 0
        self.longer_won = 0
        self.scores: dict[str, _Interval] = defaultdict(_Interval)

    def tap(self, rows: Iterable[AnnotationRow]) -> Iterator[AnnotationRow]:
        """Pass rows through unchanged, observing each unit once its rows have gone by."""
        unit_rows: list[AnnotationRow] = []
        for row in rows:
            if unit_rows and row.unit_id != unit_rows[0].unit_id:
                self.observe_unit(unit_rows)
                unit_rows = []
            unit_rows.append(row)
            yield row
        if unit_rows:
            self.observe_unit(unit_rows)

    def observe_unit(self, rows: list[AnnotationRow]) -> None:
        self.units += 1
        self.judgments += len(rows)
        first = rows[0]
        if first.item_id != self._last_item:
            self.items += 1
            self._last_item = first.item_id
        outcomes: dict[str, int] = {}
        scored: dict[tuple[int, str], list[float]] | None = None
        lengths: dict[int, int] | None = None
        annotators = self.annotators
        for row in rows:
            annotators.add(row.annotator)
            records = row.records
            for pair in records.pairs:
                if pair.aspect:
                    continue
                outcome = pair.outcome
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
                if outcome == "a" or outcome == "b":
                    winner = pair.a if outcome == "a" else pair.b
                    if row.display_order:
                        self.decisive += 1
                        if winner == row.display_order[0]:
                            self.first_won += 1
                    if lengths is None:  # the rows of a unit share its candidates
                        lengths = {c.id: len(c.text) for c in row.candidates}
                    len_a, len_b = lengths.get(pair.a), lengths.get(pair.b)
                    if len_a is not None and len_b is not None and len_a != len_b:
                        self.length_decisive += 1
                        if (len_a > len_b) == (winner == pair.a):
                            self.longer_won += 1
            if records.scores:
                if scored is None:
                    scored = defaultdict(list)
                for score in records.scores:
                    scored[(score.candidate_id, score.aspect)].append(score.score)
        if len(outcomes) > 1 or (outcomes and next(iter(outcomes.values())) > 1):
            self.patterns[tuple(sorted(outcomes.items()))] += 1
        if scored:
            for (_, aspect), values in scored.items():
                self.scores[aspect].add(values)

    def agreement(self) -> tuple[int, int, dict[tuple[str, str], float]]:
        """(agreeing annotator pairs, all pairs, coincidence matrix) over units of >= 2 votes."""
        agree = total = 0
        coincidence: dict[tuple[str, str], float] = defaultdict(float)
        for pattern, units in self.patterns.items():
            m = sum(n for _, n in pattern)
            total += units * (m * (m - 1) // 2)
            for c, n_c in pattern:
                agree += units * (n_c * (n_c - 1) // 2)
                for k, n_k in pattern:
                    coincidence[(c, k)] += units * (n_c * (n_c - 1) if c == k else n_c * n_k) / (m - 1)
        return agree, total, coincidence

    def figures(self) -> dict[str, str]:
        """Human-readable figures for the card (only those the data allow)."""
        out: dict[str, str] = {}
        agree_pairs, all_pairs, coincidence = self.agreement()
        if all_pairs:
            out["pairwise agreement (tie-aware)"] = (
                f"{agree_pairs / all_pairs:.3f} (share of {all_pairs} annotator pairs on the same unit "
                "giving the same outcome; tie and both-bad are outcomes of their own)"
            )
        alpha = nominal_alpha(coincidence)
        if alpha is not None:
            out["Krippendorff's alpha (nominal, pairwise outcomes)"] = f"{alpha:.3f}"
        if self.decisive:
            out["position bias"] = self._rate(self.first_won, self.decisive, "first-shown candidate won")
        if self.length_decisive:
            out["length bias"] = self._rate(self.longer_won, self.length_decisive, "longer candidate won")
        for aspect in sorted(self.scores):
            a = self.scores[aspect].alpha()
            if a is not None:
                out[f"Krippendorff's alpha (interval, {aspect})"] = f"{a:.3f}"
        return out

    @staticmethod
    def _rate(k: int, n: int, what: str) -> str:
        low, high = wilson_interval(k, n)
        return (
            f"{what} {_pct(k / n)} of {n} decisive judgments "
            f"(95% CI {_pct(float(low))}–{_pct(float(high))}, binomial p = {binom_test(k, n):.3g} against 50%)"
        )
