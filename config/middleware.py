"""Failing cleanly while the database is away (a restart, a failover): a request that cannot
reach PostgreSQL gets a short 503 with Retry-After, in the API's error shape for the API,
instead of a 500 and a traceback in the logs. Nothing is half-written: every service is
atomic, so a request cut off by the outage has stored all of its work or none of it."""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError, connections
from django.http import HttpResponse, JsonResponse

log = logging.getLogger(__name__)

RETRY_AFTER = "5"
MESSAGE = "The database is unavailable for a moment; nothing was lost. Try again in a few seconds."


def _close_broken_connections() -> None:
    # A connection cut by a server restart is useless; drop it so that the next request of
    # this thread connects afresh instead of failing on the dead socket.
    for conn in connections.all(initialized_only=True):
        try:
            conn.close()
        except Exception:  # noqa: BLE001, S110 - closing a dead connection may itself fail
            pass


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        log.warning("database unavailable during %s %s: %s", request.method, request.path, exception)
        _close_broken_connections()
        if request.path.startswith("/api/"):
            response = JsonResponse({"detail": MESSAGE, "code": "unavailable"}, status=503)
        else:
            response = HttpResponse(
                "<!doctype html><title>Unavailable</title><h1>Back in a moment</h1>"
                f"<p>{MESSAGE}</p>",
                status=503,
                content_type="text/html; charset=utf-8",
            )
        response.headers["Retry-After"] = RETRY_AFTER
        return response


class RequestSizeLimitMiddleware:
    """Refuse a request body larger than MAX_UPLOAD_BYTES (plus room for the form around the
    file) from its Content-Length, before a byte of it is read or spooled to disk."""

    SLACK = 1024 * 1024

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.conf import settings

        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.MAX_UPLOAD_BYTES + self.SLACK
        if length > limit:
            message = f"file: larger than {settings.MAX_UPLOAD_BYTES} bytes (the request has {length} bytes)"
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message, "code": "too_large", "errors": {"file": "too large"}}, status=413)
            return HttpResponse(
                f"<!doctype html><title>Too large</title><h1>Upload too large</h1><p>{message}</p>",
                status=413,
                content_type="text/html; charset=utf-8",
            )
        return self.get_response(request)
