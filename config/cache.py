"""The Redis cache, failing open: when Redis is down the platform keeps working from the
database alone, and caching resumes by itself once Redis is back.

Everything the cache holds can be recomputed (study fill counts, strategy state, rate-limit
counters), so a cache error is no reason to fail a request: reads miss, writes are dropped,
and `add` reports that it stored nothing. After an error the backend stops calling Redis for
RETRY_AFTER seconds (a down server would otherwise cost every request a connection attempt,
and a hung one a socket timeout), then tries again.
"""

from __future__ import annotations

import logging
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

RETRY_AFTER = 2.0


class CacheUnavailable(Exception):
    """Raised only by incr/decr, which have no sensible answer without the cache."""


class ReusedClientRedisCacheClient(RedisCacheClient):
    """Django's client builds a new redis.Redis object on every cache call, and its __init__
    fills a table of some 170 response callbacks: about 0.7 ms of CPU per call, on every
    annotator request. One redis.Redis per connection pool does the same job."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class FailOpenRedisCache(RedisCache):
    _down_until = 0.0  # per process: while in the future, Redis is not called at all

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusedClientRedisCacheClient

    def _available(self) -> bool:
        return time.monotonic() >= type(self)._down_until

    def _failed(self, exc: Exception) -> None:
        cls = type(self)
        if cls._down_until == 0.0 or time.monotonic() >= cls._down_until + 60:
            log.warning("cache unavailable (%s: %s); serving without it", type(exc).__name__, exc)
        cls._down_until = time.monotonic() + RETRY_AFTER

    def _call(self, method: str, default, *args, **kwargs):
        if not self._available():
            return default
        try:
            result = getattr(super(), method)(*args, **kwargs)
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return default
        type(self)._down_until = 0.0
        return result

    @classmethod
    def reset(cls) -> None:
        """Forget a recent failure (tests; an operator who just restarted Redis)."""
        cls._down_until = 0.0

    def get(self, key, default=None, version=None):
        return self._call("get", default, key, default, version)

    def get_many(self, keys, version=None):
        return self._call("get_many", {}, keys, version)

    def has_key(self, key, version=None):
        return self._call("has_key", False, key, version)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("add", False, key, value, timeout, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set", None, key, value, timeout, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set_many", list(data), data, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("touch", False, key, timeout, version)

    def delete(self, key, version=None):
        return self._call("delete", False, key, version)

    def delete_many(self, keys, version=None):
        return self._call("delete_many", None, keys, version)

    def clear(self):
        return self._call("clear", False)

    def incr(self, key, delta=1, version=None):
        missing = object()
        result = self._call("incr", missing, key, delta, version)
        if result is missing:
            raise CacheUnavailable("the cache is unavailable")
        return result

    def decr(self, key, delta=1, version=None):
        return self.incr(key, -delta, version)
