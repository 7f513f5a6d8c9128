"""Every API error has one shape: {"detail": ..., "code": ..., "errors": {field: message}}."""

from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from annotation.errors import DomainError


def _flatten(detail, prefix=""):
    if isinstance(detail, dict):
        for key, value in detail.items():
            yield from _flatten(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(detail, list) and detail and all(not isinstance(v, (dict, list)) for v in detail):
        yield prefix or "request", " ".join(str(v) for v in detail)
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            yield from _flatten(value, f"{prefix}[{index}]")
    else:
        yield prefix or "request", str(detail)


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        body = {"detail": exc.message, "code": exc.code}
        if exc.errors:
            body["errors"] = exc.errors
        return Response(body, status=exc.status)
    if isinstance(exc, ValidationError):
        errors = dict(_flatten(exc.detail))
        detail = "; ".join(f"{k}: {v}" for k, v in errors.items())
        return Response({"detail": detail, "code": "invalid", "errors": errors}, status=400)
    return drf_exception_handler(exc, context)
