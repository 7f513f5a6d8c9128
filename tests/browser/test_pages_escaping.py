"""Untrusted text on the researcher pages stays text (the annotate page has its own test in
test_annotate.py): a study name, instructions, item ids echoed by an upload error, an upload's
file name, an export's error (rendered by the server, then again by the page's script from
the API) carrying HTML, JavaScript, markdown links and control characters. In a real browser:
no script runs, no request leaves the site, no element comes out of the data."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from exports.models import ExportJob
from tests.browser.test_annotate import PAYLOAD, hosts, sign_in
from tests.factories import add_annotator, make_study, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NAME = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1"> [go](http://evil.example/n) \u202e\u0007'
EVIL_ID = '<img src=x onerror="window.__pwned=1">'
FILE_NAME = '<img src=x onerror="window.__pwned=1">.jsonl'
INJECTED = "main script:not([type='application/json']), main img[src='x'], main iframe, main style, main a[href^='http://evil']:not(#instructions a), main [onerror]"  # instructions are Markdown: links allowed


def watch(page) -> list:
    """Record dialogs (alert() and the like) the page opens."""
    dialogs: list = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    return dialogs


def assert_inert(page, live_host, dialogs) -> None:
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert dialogs == []
    assert page.locator(INJECTED).count() == 0
    assert hosts(page.requested) <= {live_host}, hosts(page.requested)
    assert page.script_errors == []


@pytest.fixture
def evil_study():
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="evil", items=2, redundancy=1, name=NAME, instructions="Instructions: " + PAYLOAD)
    return owner, study


def test_home_and_study_page_show_untrusted_fields_as_text(new_page, live_host, evil_study, tmp_path):
    _owner, study = evil_study
    page = new_page()
    dialogs = watch(page)
    sign_in(page, "owner")
    assert NAME.split(" [go]")[0] in page.locator("main").inner_text()  # the name, literally
    assert_inert(page, live_host, dialogs)

    page.goto(reverse("study_detail", args=[study.slug]))
    assert "<script>window.__pwned=1</script>" in page.locator("h1").inner_text()
    spec = json.loads(page.locator("#spec-json").inner_text())
    assert spec["instructions"] == "Instructions: " + PAYLOAD and spec["name"] == NAME
    assert_inert(page, live_host, dialogs)

    # An upload whose error names an item id full of HTML, then one whose file name is.
    bad = tmp_path / "bad.jsonl"
    items = [{"id": EVIL_ID, "prompt": PAYLOAD, "candidates": [{"system": "a", "text": PAYLOAD}, {"system": "b", "text": "x"}]}]
    bad.write_text("\n".join(json.dumps(i) for i in items * 2) + "\n")
    page.set_input_files("#id_upload_file", str(bad))
    page.click("#upload-form button:has-text('Upload')")
    errors = page.locator("#upload-errors").inner_text()
    assert EVIL_ID in errors and "line 2, id" in errors
    assert_inert(page, live_host, dialogs)

    good = tmp_path / FILE_NAME.replace("/", "_")
    good.write_text(json.dumps(items[0]) + "\n")
    page.set_input_files("#id_upload_file", str(good))
    page.click("#upload-form button:has-text('Upload')")
    assert "Imported 1 item" in page.locator(".messages").inner_text()
    assert_inert(page, live_host, dialogs)


def test_export_errors_stay_text_from_the_server_and_from_the_script(new_page, live_host, evil_study):
    owner, study = evil_study
    failed = ExportJob.objects.create(study=study, format="raw", status="failed", error="Failed: " + PAYLOAD, created_by=owner)
    running = ExportJob.objects.create(study=study, format="raw", status="running", rows_total=10, rows_done=1, created_by=owner)
    page = new_page()
    dialogs = watch(page)
    sign_in(page, "owner")
    page.goto(reverse("study_detail", args=[study.slug]))
    assert "<script>window.__pwned=1</script>" in page.locator(f"#export-rows tr[data-job='{failed.pk}']").inner_text()
    assert_inert(page, live_host, dialogs)
    # The page's script redraws the rows from the API while an export runs: the same text.
    ExportJob.objects.filter(pk=running.pk).update(status="failed", error="Then: " + PAYLOAD)
    row = page.locator(f"#export-rows tr[data-job='{running.pk}'][data-status=failed]")
    row.wait_for()
    assert "Then: Hello <script>window.__pwned=1</script>" in row.inner_text()
    assert_inert(page, live_host, dialogs)


def test_annotator_pages_around_the_app_show_the_study_name_as_text(new_page, live_host, evil_study):
    _, study = evil_study
    add_annotator(study, "ann")
    page = new_page()
    dialogs = watch(page)
    page.goto(reverse("join", args=[study.invite_token]))
    assert "<script>window.__pwned=1</script>" in page.locator("h1").inner_text()
    assert_inert(page, live_host, dialogs)
    sign_in(page, "ann")
    assert "<script>window.__pwned=1</script>" in page.locator("main").inner_text()
    assert_inert(page, live_host, dialogs)
    for name in ("study_annotate", "study_done"):
        page.goto(reverse(name, args=[study.slug]))
        assert_inert(page, live_host, dialogs)
    # The instructions are Markdown rendered through an allowlist: their link is inert text or a
    # plain link with no script; their <script> and <img> never become elements.
    page.goto(reverse("study_annotate", args=[study.slug]))
    assert page.locator("#instructions script, #instructions img, #instructions iframe, #instructions style").count() == 0
    for href in page.locator("#instructions a").evaluate_all("links => links.map(a => a.getAttribute('href'))"):
        assert href.startswith(("http://", "https://", "mailto:")) and "javascript" not in href.lower()
    assert page.evaluate("typeof window.__pwned") == "undefined" and dialogs == []


def test_a_new_study_form_echoes_bad_input_as_text(new_page, live_host):
    make_user("res", researcher=True)
    page = new_page()
    dialogs = watch(page)
    sign_in(page, "res")
    page.goto(reverse("study_new"))
    page.fill("#id_slug", "ok-slug")
    page.fill("#id_name", NAME)
    page.fill("#id_task_config", '{"<img src=x onerror=window.__pwned=1>": 1}')
    page.click("button:has-text('Create study')")
    assert "<img src=x onerror=window.__pwned=1>" in page.locator("#f-id_task_config").inner_text()
    assert page.input_value("#id_name") == NAME
    assert_inert(page, live_host, dialogs)
