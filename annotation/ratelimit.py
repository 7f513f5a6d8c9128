"""A small fixed-window rate limiter on the Django cache, for the sign-in and join forms.

Rates read like DRF's ("20/min"). A limiter that cannot reach the cache lets the request
through: rate limiting protects against guessing passwords, it must never take the sign-in
page down with Redis.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

log = logging.getLogger(__name__)

PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """"20/min" -> (20, 60). Raises ValueError naming the rate when it does not fit."""
    try:
        count, period = rate.split("/")
        return int(count), PERIODS[period.strip().lower()]
    except (ValueError, KeyError):
        raise ValueError(f"rate {rate!r}: expected N/s, N/min, N/hour or N/day") from None


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # seconds until the window resets, when refused


def client_ip(request) -> str:
    """The client's address: REMOTE_ADDR, or with NUM_PROXIES trusted proxies in front, the
    address the nearest of them saw (as DRF's throttles do)."""
    proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [part.strip() for part in forwarded.split(",") if part.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def hit(scope: str, key: str, rate: str) -> Verdict:
    """Count one attempt for (scope, key); refuse once the window holds more than the rate."""
    limit, period = parse_rate(rate)
    now = time.time()
    window = int(now // period)
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]  # any username fits a cache key
    cache_key = f"ratelimit:{scope}:{digest}:{window}"
    try:
        cache.add(cache_key, 0, period + 1)
        count = cache.incr(cache_key)
    except Exception as exc:  # noqa: BLE001 - any cache failure: fail open, never 500
        log.warning("rate limiter %s: cache unavailable (%s); letting the request through", scope, exc)
        return Verdict(True)
    if count > limit:
        return Verdict(False, retry_after=max(1, int((window + 1) * period - now) + 1))
    return Verdict(True)


def check(request, scope: str, rate: str, *, username: str = "") -> Verdict:
    """One attempt by this client (and, for a sign-in, at this username): refused if either
    is over the rate. Per username too, so that many addresses cannot guess one password."""
    verdict = hit(scope, f"ip:{client_ip(request)}", rate)
    if username:
        by_user = hit(scope, f"user:{username.strip().lower()}", rate)
        if not by_user.allowed and verdict.allowed:
            verdict = by_user
    return verdict
