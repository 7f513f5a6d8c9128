"""Researcher pages in a real browser: creating a study, uploading, watching an export run."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from annotation.models import Item, Study
from exports.models import ExportJob
from exports.services import export_run
from tests.browser.test_annotate import sign_in
from tests.factories import make_study, make_user, pairwise_items

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_create_a_study_fix_an_error_then_upload_items(new_page, live_host, tmp_path):
    make_user("res", researcher=True)
    page = new_page()
    sign_in(page, "res")
    page.click("a:has-text('New study')")
    page.fill("#id_slug", "summaries-1")
    page.fill("#id_name", "Which summary is better?")
    page.fill("#id_task_config", '{"allow_tie": "yes"}')
    page.fill("#id_instructions", "Pick the *better* summary.")
    page.click("button:has-text('Create study')")
    error = page.locator("#f-id_task_config .error")
    assert "task_config.allow_tie" in error.inner_text()
    assert page.input_value("#id_name") == "Which summary is better?"  # kept
    page.fill("#id_task_config", '{"allow_tie": false, "rationale": "optional"}')
    page.click("button:has-text('Create study')")
    page.wait_for_url(f"**{reverse('study_detail', args=['summaries-1'])}")
    spec = json.loads(page.locator("#spec-json").inner_text())
    assert spec["task_config"]["allow_tie"] is False and spec["task_config"]["rationale"] == "optional"
    assert spec["instructions"] == "Pick the *better* summary."

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(pairwise_items(1)[0]) + "\n" + '{"id": "x", "prompt": "p", "candidates": "nope"}\n')
    page.set_input_files("#id_upload_file", str(bad))
    page.click("#upload-form button:has-text('Upload')")
    errors = page.locator("#upload-errors")
    assert "line 2, candidates" in errors.inner_text()
    assert Item.objects.count() == 0

    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(json.dumps(i) for i in pairwise_items(3)) + "\n")
    page.set_input_files("#id_upload_file", str(good))
    page.click("#upload-form button:has-text('Upload')")
    assert "Imported 3 items" in page.locator(".messages").inner_text()
    page.click("button[data-status-action=live]")
    assert page.locator("#study-status").inner_text().lower() == "live"
    assert Study.objects.get(slug="summaries-1").status == "live"
    assert page.script_errors == []


def test_running_export_refreshes_until_its_download_appears(new_page):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="exp", items=2, redundancy=1)
    job = ExportJob.objects.create(study=study, format="trl-preference", status="running", rows_total=10, rows_done=3, created_by=owner)
    page = new_page()
    sign_in(page, "owner")
    page.goto(reverse("study_detail", args=["exp"]))
    row = page.locator(f"#export-rows tr[data-job='{job.pk}']")
    assert row.get_attribute("data-status") == "running"
    assert row.locator("a:has-text('Download')").count() == 0
    ExportJob.objects.filter(pk=job.pk).update(status="pending")
    export_run(job_id=job.pk)  # the worker finishes it while the page is open
    page.locator(f"#export-rows tr[data-job='{job.pk}'][data-status=done] a:has-text('Download')").wait_for()
    assert page.script_errors == []
