"""The dashboard page and the strategy picker without a browser: who may see them, what the
page hands to dashboard.js, and strategy changes through the service (also while live)."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from annotation.models import Study, StudyMembership
from tests.factories import add_annotator, make_study, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return make_user("owner", researcher=True)


@pytest.fixture
def study(owner):
    return make_study(owner, slug="s1", items=3, redundancy=1)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- dashboard --------------------------------------------------------------------------------


def test_researchers_of_the_study_see_the_dashboard(owner, study):
    colleague = make_user("colleague", researcher=True)
    StudyMembership.objects.create(study=study, user=colleague, role="researcher")
    admin = get_user_model().objects.create_superuser("admin", "a@example.org", "pw-admin-123")
    for user in (owner, colleague, admin):
        response = client_for(user).get(reverse("study_dashboard", args=["s1"]))
        assert response.status_code == 200, user
        html = response.content.decode()
        assert f'data-report-url="{reverse("api-study-report", args=["s1"])}"' in html
        assert "dashboard.js" in html and response["Content-Security-Policy"].startswith("default-src 'self'")
        # No chart library, no other host: every script comes from our static files.
        assert set(re.findall(r'<script src="([^"]+)"', html)) == {"/static/frontend/app.js", "/static/frontend/dashboard.js"}


def test_everyone_else_is_refused(owner, study):
    url = reverse("study_dashboard", args=["s1"])
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and anonymous["Location"] == f"{reverse('login')}?next={url}"
    annotator = add_annotator(study, "ann")
    other = make_user("other", researcher=True)
    make_study(other, slug="s2", items=1)
    for user in (annotator, other, make_user("plain")):
        response = client_for(user).get(url)
        assert response.status_code == 404 and b"Not found" in response.content
        # ... and the API the page reads refuses them too.
        assert client_for(user).get(reverse("api-study-report", args=["s1"])).status_code in (403, 404)
    assert client_for(owner).get(reverse("study_dashboard", args=["nope"])).status_code == 404


def test_the_study_page_links_to_the_dashboard(owner, study):
    html = client_for(owner).get(reverse("study_detail", args=["s1"])).content.decode()
    assert f'href="{reverse("study_dashboard", args=["s1"])}" id="dashboard-link"' in html


def test_names_in_the_page_frame_are_escaped(owner):
    evil = make_study(owner, slug="evil", items=1, name="<script>alert(1)</script>")
    make_study(owner, slug="likert-one", items=1, task_type="likert", task_config={}, name="<img src=x onerror=alert(1)>")
    html = client_for(owner).get(reverse("study_dashboard", args=[evil.slug])).content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html  # in the compare choices


def test_compare_choices_are_studies_of_the_other_kind_with_the_same_owner(owner, study):
    make_study(owner, slug="lk", items=1, task_type="likert", task_config={})
    make_study(owner, slug="pw2", items=1)  # pairwise too: not comparable
    other = make_user("other", researcher=True)
    make_study(other, slug="foreign", items=1, task_type="likert", task_config={})
    html = client_for(owner).get(reverse("study_dashboard", args=["s1"])).content.decode()
    options = re.findall(r'<option value="([^"]*)"', html)
    assert options == ["", "lk"]
    likert_page = client_for(owner).get(reverse("study_dashboard", args=["lk"])).content.decode()
    assert re.findall(r'<option value="([^"]*)"', likert_page) == ["", "pw2", "s1"]


def test_the_report_api_answers_what_the_dashboard_asks(owner, study):
    """dashboard.js sends include_excluded=true and compare=<slug>; the API takes both."""
    make_study(owner, slug="lk", items=1, task_type="likert", task_config={})
    client = client_for(owner)
    report = client.get(reverse("api-study-report", args=["s1"]) + "?include_excluded=true&compare=lk").json()
    assert report["options"]["include_excluded"] is True and report["options"]["compare"] == "lk"
    assert {"progress", "quality", "agreement", "ranking", "bias", "judges", "strategies", "cross_elicitation"} <= set(report)
    json.dumps(report, allow_nan=False)


# --- strategy picker --------------------------------------------------------------------------


def test_the_strategy_picker_changes_the_strategy_while_live(owner, study):
    client = client_for(owner)
    page = client.get(reverse("study_detail", args=["s1"])).content.decode()
    assert 'id="strategy-form"' in page and '<option value="active-bt"' in page
    assert 'id="strategy-defaults"' in page  # the defaults study.js swaps in when the strategy changes
    response = client.post(reverse("study_strategy", args=["s1"]), {"strategy": "active-bt", "strategy_params": '{"epsilon": 0.25}'})
    assert response.status_code == 302 and response["Location"] == reverse("study_detail", args=["s1"]) + "#strategy"
    study.refresh_from_db()
    assert study.status == "live" and study.strategy == "active-bt"
    assert study.strategy_params == {"epsilon": 0.25, "level": "system", "criterion": "misorder"}  # defaults filled in
    page = client.get(response["Location"]).content.decode()
    assert "The study now uses the active-bt strategy." in page
    assert '<option value="active-bt" selected>' in page and "&quot;epsilon&quot;: 0.25" in page


@pytest.mark.parametrize(
    "data,field,expected",
    [
        ({"strategy": "uniform", "strategy_params": '{"epsilon": 0.1}'}, "strategy_params", "strategy.params.epsilon"),
        ({"strategy": "active-bt", "strategy_params": '{"epsilon": 7}'}, "strategy_params", "strategy.params.epsilon"),
        ({"strategy": "active-bt", "strategy_params": "{nope"}, "strategy_params", "not valid JSON"),
        ({"strategy": "magic", "strategy_params": "{}"}, "strategy", "Select a valid choice"),
    ],
)
def test_bad_strategy_params_come_back_next_to_the_field(owner, study, data, field, expected):
    response = client_for(owner).post(reverse("study_strategy", args=["s1"]), data)
    assert response.status_code == 400
    html = response.content.decode()
    block = re.search(rf'<div class="field has-error" id="f-id_pick_{field}">(.*?)</div>', html, re.DOTALL)
    assert block and expected in block.group(1), html[html.find('id="strategy-form"'):][:2000]
    study.refresh_from_db()
    assert study.strategy == "uniform" and study.strategy_params == {}


def test_annotators_and_strangers_cannot_change_the_strategy(owner, study):
    for user in (add_annotator(study, "ann"), make_user("stranger", researcher=True)):
        assert client_for(user).post(reverse("study_strategy", args=["s1"]), {"strategy": "balanced", "strategy_params": "{}"}).status_code == 404
    assert Client().post(reverse("study_strategy", args=["s1"]), {"strategy": "balanced"}).status_code == 302
    assert client_for(owner).get(reverse("study_strategy", args=["s1"])).status_code == 405
    assert Study.objects.get(slug="s1").strategy == "uniform"


def test_a_link_may_name_the_study_to_compare_with(owner, study):
    make_study(owner, slug="scores", items=1, task_type="likert")
    html = client_for(owner).get(reverse("study_dashboard", args=["s1"]) + "?compare=scores").content.decode()
    assert '<option value="scores" selected>' in html
    html = client_for(owner).get(reverse("study_dashboard", args=["s1"]) + "?compare=%22%3E%3Cscript%3E").content.decode()
    assert "selected" not in html.split('id="opt-compare"', 1)[1].split("</select>", 1)[0] and "<script>" not in html.split("<main", 1)[1].split("</main>", 1)[0]
