"""Failing cleanly while the database is away (a restart, a failover): a request that cannot
reach PostgreSQL gets a short 503 with Retry-After, in the API's error shape for the API,
instead of a 500 and a traceback in the logs. Nothing is half-written: every service is
atomic, so a request cut off by the outage has stored all of its work or none of it, and a
retried submission is stored once (its idempotency key)."""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse

log = logging.getLogger(__name__)

RETRY_AFTER = "5"
MESSAGE = "The database is unavailable for a moment; try again in a few seconds (a judgment sent again with its idempotency key is stored once)."


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        # Django closes the broken connection when the request ends (it checks its health).
        log.warning("database unavailable during %s %s: %s", request.method, request.path, exception)
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
    """Refuse an oversized request body from its Content-Length, before a byte of it is read
    or spooled to disk: a file upload (multipart) may carry MAX_UPLOAD_BYTES (plus room for the
    form around the file), anything else DATA_UPLOAD_MAX_MEMORY_SIZE (DRF's JSON parser reads
    the body whole, and Django's own check does not apply to it)."""

    SLACK = 1024 * 1024

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.conf import settings

        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if request.META.get("CONTENT_TYPE", "").startswith("multipart/"):
            limit, allowed, field = settings.MAX_UPLOAD_BYTES + self.SLACK, settings.MAX_UPLOAD_BYTES, "file"
        else:
            limit = allowed = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
            field = "request"
        if limit and length > limit:
            message = f"{field}: larger than {allowed} bytes (the request has {length} bytes)"
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message, "code": "too_large", "errors": {field: "too large"}}, status=413)
            return HttpResponse(
                f"<!doctype html><title>Too large</title><h1>Upload too large</h1><p>{message}</p>",
                status=413,
                content_type="text/html; charset=utf-8",
            )
        return self.get_response(request)
