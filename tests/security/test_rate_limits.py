"""Sign-in (page and API token) and join are rate-limited per address, sign-ins per username
too; the limiter lets requests through when the cache is down (never a 500)."""

from __future__ import annotations

import itertools
import time
import uuid
from types import SimpleNamespace

import pytest
from django.test import Client
from django.urls import reverse

from annotation import ratelimit
from annotation.models import StudyMembership
from annotation.urls_api import LoginThrottle
from tests.factories import PASSWORD, make_study, make_user

pytestmark = pytest.mark.django_db

_addresses = itertools.count(1)


def address() -> str:
    """A client address no other test used (cache counters outlive a test)."""
    n = next(_addresses) + uuid.uuid4().int % 50000
    return f"198.18.{n // 250 % 250}.{n % 250 + 1}"


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(autouse=True)
def one_window(monkeypatch):
    """The limiter counts in fixed windows of the wall clock ("3/min": one count per clock
    minute): attempts that straddle the turn of a minute would start counting afresh half-way
    and the last one would get through. Its clock stands still during a test."""
    now = time.time()
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: now))


def test_sign_in_is_limited_per_address(settings):
    settings.LOGIN_RATE = "3/min"
    user = make_user(unique("ann"))
    client = Client(REMOTE_ADDR=address())
    for _ in range(3):
        assert client.post(reverse("login"), {"username": user.username, "password": "wrong"}).status_code == 200
    refused = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert b"Too many attempts" in refused.content
    assert "_auth_user_id" not in client.session  # even the right password does not sign in now
    # Another address is not affected.
    other = make_user(unique("other"))
    assert Client(REMOTE_ADDR=address()).post(reverse("login"), {"username": other.username, "password": PASSWORD}).status_code == 302


def test_sign_in_is_limited_per_username_across_addresses(settings):
    settings.LOGIN_RATE = "3/min"
    user = make_user(unique("target"))
    for _ in range(3):
        Client(REMOTE_ADDR=address()).post(reverse("login"), {"username": user.username, "password": "guess"})
    assert Client(REMOTE_ADDR=address()).post(reverse("login"), {"username": user.username.upper(), "password": "guess"}).status_code == 429


def test_join_is_limited_per_address(settings):
    settings.JOIN_RATE = "2/min"
    owner = make_user(unique("owner"), researcher=True)
    study = make_study(owner, slug=unique("s").lower(), items=1)
    client = Client(REMOTE_ADDR=address())
    url = reverse("join", args=[study.invite_token])
    for i in range(2):
        response = client.post(url, {"action": "signup", "signup-username": unique(f"u{i}"), "signup-password1": "x", "signup-password2": "y"})
        assert response.status_code == 400
    name = unique("blocked")
    response = client.post(url, {"action": "signup", "signup-username": name, "signup-password1": PASSWORD, "signup-password2": PASSWORD})
    assert response.status_code == 429 and b"Too many attempts" in response.content
    assert not StudyMembership.objects.filter(study=study, user__username=name).exists()
    assert client.get(url).status_code == 200  # looking at the invite is never limited


def test_the_api_token_endpoint_is_limited(monkeypatch):
    monkeypatch.setattr(LoginThrottle, "THROTTLE_RATES", {"login": "2/min"})
    user = make_user(unique("script"))
    client = Client(REMOTE_ADDR=address())
    for _ in range(2):
        assert client.post("/api/v1/auth/token/", {"username": user.username, "password": "wrong"}).status_code == 400
    response = client.post("/api/v1/auth/token/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 429 and response.json()["detail"]


class BrokenCache:
    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise ConnectionError("cache down")

        return fail


def test_the_limiter_fails_open_when_the_cache_is_down(settings, monkeypatch):
    settings.LOGIN_RATE = "1/min"
    monkeypatch.setattr(ratelimit, "cache", BrokenCache())
    user = make_user(unique("ann"))
    client = Client(REMOTE_ADDR=address(), raise_request_exception=False)
    for _ in range(3):
        assert client.post(reverse("login"), {"username": user.username, "password": "wrong"}).status_code == 200
    assert client.post(reverse("login"), {"username": user.username, "password": PASSWORD}).status_code == 302


def test_behind_trusted_proxies_the_forwarded_address_counts(settings):
    from django.test import RequestFactory

    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    request = RequestFactory().post("/login/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7, 198.51.100.2")
    assert ratelimit.client_ip(request) == "198.51.100.2"  # what our one proxy saw; the rest is the client's claim
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": None}
    assert ratelimit.client_ip(request) == "10.0.0.1"  # no proxy trusted: the header is ignored


def test_rates_parse():
    assert ratelimit.parse_rate("20/min") == (20, 60)
    assert ratelimit.parse_rate("5/hour") == (5, 3600)
    with pytest.raises(ValueError, match="rate 'x'"):
        ratelimit.parse_rate("x")
