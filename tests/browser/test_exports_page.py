"""The study page's exports and imports in a real browser: a running export's progress, a
failed one retried with its button and then downloaded, and uploads imported in the
background whose result (or first bad line and field) appears without reloading."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest
from django.urls import reverse

from annotation.models import Item
from exports.models import ExportJob, ImportJob
from exports.services import export_run, import_run
from tests.browser.test_annotate import sign_in
from tests.factories import add_annotator, make_study, make_user, pairwise_items
from tests.integration.test_exports_formats import bulk_annotate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EXPORT_ROOT = settings.MEDIA_ROOT / "exports"
    return settings.MEDIA_ROOT


def test_export_progress_retry_and_download(new_page, media, eager_tasks, tmp_path):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="exp", items=3, redundancy=2)
    bulk_annotate(study, [add_annotator(study, "ann0"), add_annotator(study, "ann1")], lambda unit, k: unit.candidate_ids[k % 2])
    running = ExportJob.objects.create(study=study, format="trl-preference", status="running", rows_total=10, rows_done=3,
                                       attempts=1, created_by=owner)
    ExportJob.objects.filter(pk=running.pk).update(heartbeat_at=running.created_at, started_at=running.created_at)
    failed = ExportJob.objects.create(study=study, format="raw", status="failed", error="OSError: No space left on device",
                                      attempts=1, created_by=owner)
    page = new_page()
    sign_in(page, "owner")
    page.goto(reverse("study_detail", args=["exp"]))

    running_row = page.locator(f"#export-rows tr[data-job='{running.pk}']")
    failed_row = page.locator(f"#export-rows tr[data-job='{failed.pk}']")
    # the page polls while an export runs: its rows are redrawn with the share done
    running_row.locator("text=3 / 10 (30%)").wait_for()
    assert running_row.locator("button:has-text('Retry')").count() == 0  # a healthy running export is not retried
    assert "No space left on device" in failed_row.inner_text()

    failed_row.locator("button:has-text('Retry')").click()  # the button the script drew
    page.wait_for_url(re.compile(r".*#exports$"))
    assert "started again" in page.locator(".messages").inner_text()
    done_row = page.locator(f"#export-rows tr[data-job='{failed.pk}'][data-status=done]")
    with page.expect_download() as download_info:
        done_row.locator("a:has-text('Download')").click()
    saved = tmp_path / "download.zip"
    download_info.value.save_as(saved)
    with zipfile.ZipFile(saved) as zf:
        names = zf.namelist()
        raw = next(n for n in names if n.endswith("raw.jsonl"))
        assert len(zf.read(raw).decode().splitlines()) == 6
        assert any(n.endswith("README.md") for n in names)

    ExportJob.objects.filter(pk=running.pk).update(status="pending")
    export_run(job_id=running.pk)  # the worker finishes the other one while the page is open
    page.locator(f"#export-rows tr[data-job='{running.pk}'][data-status=done] a:has-text('Download')").wait_for()
    assert page.script_errors == []


def test_background_imports_show_their_result_or_the_first_bad_line(new_page, media, eager_tasks, tmp_path):
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="imp", items=0)
    page = new_page()
    sign_in(page, "owner")
    page.goto(reverse("study_detail", args=["imp"]))

    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(json.dumps(i) for i in pairwise_items(3)) + "\n")
    page.set_input_files("#id_upload_file", str(good))
    page.check("#id_upload_background")
    page.click("#upload-form button:has-text('Upload')")
    page.wait_for_url(re.compile(r".*#imports$"))
    job = ImportJob.objects.get()
    row = page.locator(f"#import-rows tr[data-import='{job.pk}']")
    assert row.get_attribute("data-status") == "done"
    assert "3 rows taken" in row.inner_text() and "items: 3" in row.inner_text()

    items = pairwise_items(3, prefix="more")
    items[1]["candidates"][1]["system"] = items[1]["candidates"][0]["system"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(json.dumps(i) for i in items) + "\n")
    page.set_input_files("#id_upload_file", str(bad))
    page.check("#id_upload_background")
    page.click("#upload-form button:has-text('Upload')")
    page.wait_for_url(re.compile(r".*#imports$"))
    failed = ImportJob.objects.exclude(pk=job.pk).get()
    row = page.locator(f"#import-rows tr[data-import='{failed.pk}']")
    assert row.get_attribute("data-status") == "failed"
    assert "line 2, candidates[1].system" in row.inner_text() and "nothing was imported" in row.inner_text()
    assert Item.objects.filter(study=study).count() == 3

    # one queued by a script (API) while the page is open: the page follows it to the end
    upload = Path(media) / "imports" / "queued-items.jsonl"
    upload.write_text("\n".join(json.dumps(i) for i in pairwise_items(2, prefix="late")) + "\n")
    queued = ImportJob.objects.create(study=study, kind="items", format="jsonl", filename="late.jsonl",
                                      upload=str(upload.relative_to(media)), created_by=owner)
    page.reload()
    assert page.locator(f"#import-rows tr[data-import='{queued.pk}']").get_attribute("data-status") == "pending"
    import_run(job_id=queued.pk)
    page.locator(f"#import-rows tr[data-import='{queued.pk}'][data-status=done]").wait_for()
    assert "2 rows taken" in page.locator(f"#import-rows tr[data-import='{queued.pk}']").inner_text()
    assert Item.objects.filter(study=study).count() == 5
    assert page.script_errors == []
