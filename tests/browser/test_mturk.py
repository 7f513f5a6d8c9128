"""An MTurk worker in a real browser: the HIT page of a test origin configured as the MTurk
origin frames our entry link (ExternalQuestion); the worker judges inside the frame up to the
quota, and the completion form posts the assignment id to turkSubmitTo/mturk/externalSubmit.
The preview, framed too, shows the task without creating an annotator; an origin that is not
configured as MTurk cannot frame the pages."""

from __future__ import annotations

from urllib.parse import parse_qs, quote

import pytest
from django.urls import reverse

from annotation.models import Annotation, StudyMembership
from tests.browser.conftest import ARGS, CHROMIUM
from tests.factories import make_study, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Stand-ins for https://workersandbox.mturk.com and for another site, served by Playwright. On
# localhost (another port: another origin, the same site as the live server) because browsers
# keep third-party cookies to their own policy; the cookies' SameSite=None and the headers are
# checked in tests/integration/test_pages_mturk.py.
TURK = "http://localhost:9"
OTHER = "http://localhost:7"
SCREENSHOT = "/tmp/trenchcoat-mturk-frame.png"


@pytest.fixture(scope="module")
def turk_browser(playwright_driver):
    """Chromium whose Local Network Access checks are off: a page that Playwright serves
    counts as public, and one may frame a local page only with the user's permission (in real
    use MTurk and Trenchcoat are both public sites). Launched by the session's Playwright."""
    instance = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[
        *ARGS, "--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights"])
    yield instance
    instance.close()


@pytest.fixture
def new_page(turk_browser, live_server, transactional_db):
    contexts = []

    def make():
        context = turk_browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.script_errors = []
        page.on("pageerror", lambda error: page.script_errors.append(str(error)))
        return page

    yield make
    for context in contexts:
        context.close()


def hit_page(src: str) -> str:
    return f'<!doctype html><title>HIT</title><h1>MTurk HIT</h1><iframe id="task" src="{src}" width="1000" height="700"></iframe>'


def serve(page, origin: str, iframe_src: str, submissions: list) -> None:
    def handle(route):
        request = route.request
        if request.method == "POST" and request.url.startswith(f"{origin}/mturk/externalSubmit"):
            submissions.append(parse_qs(request.post_data or ""))
            route.fulfill(status=200, content_type="text/html", body="<p id='turk-thanks'>HIT submitted</p>")
        else:
            route.fulfill(status=200, content_type="text/html", body=hit_page(iframe_src))

    page.route(f"{origin}/**", handle)


def wait_for_unit_in(frame, previous=None) -> str:
    frame.locator("#unit[data-unit-id]:not([hidden])").wait_for()
    if previous is not None:
        frame.locator(f"#unit:not([data-unit-id='{previous}'])").wait_for()
    return frame.locator("#unit").get_attribute("data-unit-id")


def test_an_mturk_worker_judges_inside_the_frame_and_hands_the_hit_in(new_page, live_server, settings):
    settings.MTURK_ORIGINS = [TURK]
    owner = make_user("owner", researcher=True)
    study = make_study(owner, slug="turk", items=5, redundancy=1, crowd={"platform": "mturk", "quota": 2},
                       instructions="Pick the **better** answer.")
    entry = live_server.url + reverse("crowd_entry", args=[study.invite_token])

    # preview: the task described, nobody created
    preview = new_page()
    serve(preview, TURK, entry + "?assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId=H1", [])
    preview.goto(f"{TURK}/preview")
    frame = preview.frame_locator("#task")
    assert "Accept the HIT to start" in frame.locator("#crowd-reason").inner_text()
    assert frame.locator("#crowd-instructions strong").inner_text() == "better"
    assert not StudyMembership.objects.filter(study=study, role="annotator").exists()

    # the accepted HIT
    page = new_page()
    submissions: list = []
    serve(page, TURK, entry + f"?workerId=AW1&assignmentId=3ASSIGN&hitId=H1&turkSubmitTo={quote(TURK, safe='')}", submissions)
    page.goto(f"{TURK}/hit")
    frame = page.frame_locator("#task")
    unit_id = None
    for _ in range(2):
        unit_id = wait_for_unit_in(frame, unit_id)
        frame.locator("#prompt").click()  # the keyboard goes to the frame
        page.keyboard.press("1")
        page.keyboard.press("Enter")
    button = frame.locator("#mturk-submit")
    button.wait_for()
    form = frame.locator("#mturk-submit-form")
    assert form.get_attribute("action") == f"{TURK}/mturk/externalSubmit"
    page.screenshot(path=SCREENSHOT, full_page=True)
    button.click()
    frame.locator("#turk-thanks").wait_for()
    assert submissions == [{"assignmentId": ["3ASSIGN"]}]
    user = StudyMembership.objects.get(study=study, worker_id="AW1").user
    assert Annotation.objects.filter(annotator=user).count() == 2
    assert page.script_errors == []

    # a site that is not MTurk cannot frame the entry link
    stranger = new_page()
    serve(stranger, OTHER, entry + f"?workerId=AW2&assignmentId=4ASSIGN&hitId=H1&turkSubmitTo={quote(TURK, safe='')}", [])
    blocked = []
    stranger.on("response", lambda r: blocked.append(r.url) if "/crowd/" in r.url else None)
    # refused by frame-ancestors: the frame ends on Chromium's error page (waited for, not timed)
    with stranger.expect_event("framenavigated", predicate=lambda frame: frame.url.startswith("chrome-error://")):
        stranger.goto(f"{OTHER}/hit")
    assert blocked, "the entry link was requested"
    assert stranger.frames[1].url.startswith("chrome-error://")  # refused by frame-ancestors
    assert stranger.frame_locator("#task").locator("#unit").count() == 0
