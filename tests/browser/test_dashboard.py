"""The study dashboard in a real browser: the report is loaded from the API and drawn as
inline SVG (one point per system, one cell per pair of systems, one row per judge and
annotator), untrusted names stay text, nothing comes from another host."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone

from annotation.models import Annotation, Candidate, StudyMembership
from annotation.services import annotation_submit, items_import
from elicitation.services import assignment_next_for_annotator
from tests.browser.test_annotate import hosts, sign_in
from tests.factories import add_annotator, make_study, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = "/tmp/trenchcoat-dashboard.png"
EVIL = "<script>alert(1)</script>"
QUALITY = {"sys-a": 2.0, EVIL: 1.0, "sys-c": 0.0}
JUDGES = ("rm/oracle", "bleu", "comet")


def judged_items(n: int) -> list[dict]:
    """Candidates with scores from a reward model that knows the quality, a metric that has it
    backwards and a noisy one."""
    rng = np.random.default_rng(7)
    return [
        {
            "id": f"it-{i}",
            "prompt": f"Question {i}?",
            "candidates": [
                {
                    "system": s,
                    "text": f"answer {i} " + "word " * (2 + 2 * int(q)),
                    "judges": {"rm/oracle": q + 0.2 * float(rng.normal()), "bleu": 10 * (2 - q) + float(i % 3), "comet": float(rng.random())},
                }
                for s, q in QUALITY.items()
            ],
        }
        for i in range(n)
    ]


def drive(study, users, respond) -> int:
    """Every annotator leases and answers units through the real services until none is left."""
    systems = dict(Candidate.objects.filter(item__study=study).values_list("id", "system"))
    active, n = list(users), 0
    while active:
        for user in list(active):
            a = assignment_next_for_annotator(study=study, user=user)
            if a is None:
                active.remove(user)
                continue
            n += 1
            shown = [(cid, systems[cid]) for cid in a.display_order]
            annotation_submit(assignment_id=a.id, user=user, response=respond(user, shown, n), idempotency_key=f"k{a.id}",
                              duration_ms=4000 if n % 4 else 900)
    return n


def study_with_judgments(owner, slug="dash", n_items=6, annotators=("ann-1", "ann-2", "ann-3")):
    study = make_study(owner, slug=slug, items=0, redundancy=2, quality={"min_seconds_per_unit": 2},
                       systems=tuple(QUALITY))
    items_import(study=study, lines=[json.dumps(i) for i in judged_items(n_items)])
    users = [add_annotator(study, name) for name in annotators]
    rng = np.random.default_rng(3)

    def respond(user, shown, turn):
        if user.username == annotators[0] and rng.random() < 0.7:
            return {"choice": shown[0][0]}  # position-biased
        return {"choice": max(shown, key=lambda c: QUALITY[c[1]] + 0.3 * rng.normal())[0]}

    judgments = drive(study, users, respond)
    # Spread the judgments over the last seven hours, as a study that ran for a while.
    start = timezone.now() - timedelta(hours=7)
    ids = list(Annotation.objects.filter(study=study).order_by("id").values_list("id", flat=True))
    for k, pk in enumerate(ids):
        Annotation.objects.filter(pk=pk).update(submitted_at=start + timedelta(hours=7 * k / len(ids)))
    return study, users, judgments


def test_dashboard_draws_the_report_and_keeps_names_as_text(new_page, live_host):
    owner = make_user("owner", researcher=True)
    study, users, judgments = study_with_judgments(owner)
    StudyMembership.objects.filter(study=study, user=users[2]).update(excluded=True, excluded_reason="failed 3 of 4 checks")
    page = new_page(1400, 1000)
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, "owner")
    page.goto(reverse("study_detail", args=[study.slug]))
    page.click("#dashboard-link")
    page.wait_for_url(f"**{reverse('study_dashboard', args=[study.slug])}")
    page.wait_for_selector("#dashboard[data-loaded=true]")

    # Ranking: one point and one interval per system, sorted by score; the evil name is text.
    ranking = page.locator("#ranking-chart")
    assert ranking.locator("circle.point").count() == 3
    assert ranking.locator("line.interval").count() == 3
    labels = ranking.locator("text.label").all_text_contents()
    # In the report's order (six items and a position-biased annotator leave the fitted order
    # to chance, so it is read from the report the page loaded, not from QUALITY).
    report = page.evaluate(
        "() => fetch(document.getElementById('dashboard').dataset.reportUrl, {credentials: 'same-origin'}).then(r => r.json())"
    )
    fitted = sorted(report["ranking"]["bradley_terry"]["systems"], key=lambda s: -s["score"])
    assert EVIL in labels and labels == [s["system"] for s in fitted]
    xs = [float(c) for c in ranking.locator("circle.point").evaluate_all("ps => ps.map(p => p.getAttribute('cx'))")]
    assert xs == sorted(xs, reverse=True)
    # Win-rate heatmap: 3 x 3 cells, the six off-diagonal ones carry their value.
    heat = page.locator("#winrate-chart")
    assert heat.locator("rect.cell").count() == 9
    assert heat.locator("text.cell-text").count() == 6
    # Agreement figures with their n.
    assert page.locator("#agreement-chart circle.point").count() >= 2
    assert "n = " in page.locator("#agreement-pairwise").inner_text()
    # Position and length bias: overall + one row per analysed annotator (the excluded one is out).
    assert page.locator("#position-chart circle.point").count() == 1 + 2
    assert page.locator("#length-chart circle.point").count() == 1 + 2
    # Judges: a point per judge plus the human ceiling, a table row each.
    assert page.locator("#judges-chart circle.point").count() == len(JUDGES) + 1
    assert page.locator("#judges-chart rect.ceiling").count() == 1
    assert page.locator("#judges-table tbody tr.judge-row").count() == len(JUDGES)
    assert page.locator("#judges-table tbody tr.human-row").count() == 1
    table = page.locator("#judges-table").text_content()
    assert "rm/oracle" in table and "reward model" in table and "metric" in table
    # Progress over time: bars and a cumulative line up to the total.
    assert page.locator("#progress-chart rect.bar").count() in (7, 8)  # one per hour
    assert page.locator("#progress-chart path.cumulative").count() == 1
    assert page.locator("#tile-judgments .tile-value").inner_text() == str(judgments)
    # Per-annotator quality: every annotator, the excluded one with the reason.
    rows = page.locator("#quality-table tbody tr")
    assert rows.count() == 3
    excluded = page.locator("#quality-table tbody tr.excluded-row")
    assert excluded.count() == 1 and "failed 3 of 4 checks" in excluded.inner_text()
    # Strategies: one bar for uniform.
    assert page.locator("#strategies-chart rect.bar").count() == 1
    assert "uniform" in page.locator("#strategies-chart").text_content()
    # No section failed, and the cross-elicitation section says why it is empty.
    assert page.locator(".dash-error").count() == 0
    assert "No study to compare with" in page.locator("#sec-cross").inner_text()

    # Untrusted names never became markup.
    assert dialogs == []
    assert page.locator("#dashboard script").count() == 0
    assert page.evaluate("document.querySelectorAll('script').length") == 2  # app.js and dashboard.js
    assert EVIL in page.locator("#ranking-table").text_content()

    # Keeping excluded annotators adds theirs back.
    page.check("#opt-excluded")
    page.wait_for_function("() => document.querySelectorAll('#position-chart circle.point').length === 4")
    page.wait_for_selector("#dashboard[aria-busy=false]")
    page.uncheck("#opt-excluded")
    page.wait_for_function("() => document.querySelectorAll('#position-chart circle.point').length === 3")
    page.wait_for_selector("#dashboard[aria-busy=false]")

    page.screenshot(path=SCREENSHOT, full_page=True)
    page.locator("#sec-judges").screenshot(path=SCREENSHOT.replace(".png", "-judges.png"))
    assert page.script_errors == []
    assert hosts(page.requested) == {live_host}


def test_a_study_without_judgments_says_what_is_missing(new_page):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="empty", items=3, task_type="likert", task_config={}, systems=("a", "b"))
    page = new_page()
    sign_in(page, "owner")
    page.goto(reverse("study_dashboard", args=[study.slug]))
    page.wait_for_selector("#dashboard[data-loaded=true]")
    assert "No judgments yet" in page.locator("#sec-progress").inner_text()
    assert "No comparisons yet" in page.locator("#sec-ranking").inner_text()
    assert "Position bias applies to pairwise judgments" in page.locator("#sec-bias").inner_text()
    assert "No annotator has judged anything yet" in page.locator("#sec-quality").inner_text()
    assert page.locator(".dash-error").count() == 0
    page.screenshot(path="/tmp/trenchcoat-dashboard-empty.png", full_page=True)
    assert page.script_errors == []


def test_a_report_that_fails_shows_the_error_and_a_retry(new_page):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="fails", items=2)
    page = new_page()
    sign_in(page, "owner")
    page.route("**/api/v1/studies/fails/report/**", lambda route: route.fulfill(status=503, content_type="application/json",
                                                                                  body=json.dumps({"detail": "database unavailable"})))
    page.goto(reverse("study_dashboard", args=[study.slug]))
    status = page.locator("#report-status.error")
    status.wait_for()
    assert "database unavailable" in status.inner_text()
    page.unroute("**/api/v1/studies/fails/report/**")
    status.locator("button:has-text('Try again')").click()
    page.wait_for_selector("#dashboard[data-loaded=true]")
    assert page.locator("#report-status").is_hidden()
    assert page.script_errors == []


@pytest.mark.parametrize("task_type", ["likert", "mqm", "rubric"])
def test_score_based_studies_draw_their_own_figures_and_compare_with_votes(new_page, task_type):
    from tests.integration.test_report import SCORE_STUDIES, pairwise_voter, study_with_items
    from tests.integration.test_report import drive as drive_report

    owner = make_user("owner", researcher=True)
    config, voter = SCORE_STUDIES[task_type]
    scored = study_with_items(owner, "scored", 6, task_type=task_type, task_config=config, redundancy=2)
    drive_report(scored, [add_annotator(scored, f"s{k}") for k in range(3)], voter(np.random.default_rng(2)))
    votes = study_with_items(owner, "votes", 6, redundancy=2)
    drive_report(votes, [add_annotator(votes, f"p{k}") for k in range(2)], pairwise_voter(np.random.default_rng(3), {"p0": 0.0, "p1": 0.2}))

    page = new_page(1400, 1000)
    sign_in(page, "owner")
    page.goto(reverse("study_dashboard", args=["scored"]))
    page.wait_for_selector("#dashboard[data-loaded=true]")
    assert page.locator("#scores-chart-0 circle.point").count() == 3  # the primary aspect, one point per system
    assert page.locator("#ranking-chart circle.point").count() == 3
    assert page.locator("#agreement-chart circle.point").count() >= 1
    assert "Position bias applies to pairwise judgments" in page.locator("#sec-bias").inner_text()
    assert page.locator("#judges-table tbody tr.judge-row").count() == 2
    assert "Pearson" in page.locator("#judges-table thead").inner_text()  # segment level, against mean human scores
    if task_type == "mqm":
        assert "Span F1" in page.locator("#sec-agreement").inner_text()
        assert "lower is better" in page.locator("#sec-ranking").inner_text()
    page.select_option("#opt-compare", "votes")
    page.locator("#cross-chart").wait_for()
    page.wait_for_selector("#dashboard[aria-busy=false]")
    assert page.locator("#cross-chart circle.point").count() >= 3
    assert "votes (votes) against scored" in page.locator("#sec-cross").inner_text()
    assert page.locator(".dash-error").count() == 0
    page.screenshot(path=f"/tmp/trenchcoat-dashboard-{task_type}.png", full_page=True)
    assert page.script_errors == []
