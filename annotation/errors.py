"""Domain errors raised by services; the API and pages turn them into clear responses."""

from __future__ import annotations

from collections.abc import Mapping


class DomainError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str, errors: Mapping[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = dict(errors or {})


class Invalid(DomainError):
    """Input that does not fit: `errors` maps field (or "line N, field") -> message."""


class NotAllowed(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"
