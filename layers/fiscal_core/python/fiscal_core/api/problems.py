"""API errors and their one translation into RFC 9457 problem details.

Logic raises domain exceptions (these, the storage ones, ``InvalidValue``, certificate errors);
:func:`problem_for` is the only place that decides their HTTP status and body. The body never
says more than the caller may know: a resource of another account and one that does not exist
get the same 404, and an unexpected failure is a 500 whose detail names no internals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from pydantic import Field

from fiscal_core.certificates import CertificateError
from fiscal_core.errors import EncryptionError, FiscalMixError, InvalidValue
from fiscal_core.model import Model
from fiscal_core.storage.errors import RecordExists, RecordNotFound, StorageUnavailable

PROBLEM_CONTENT_TYPE: Final = "application/problem+json"
# Problem types are relative URI references, documented one by one in docs/api.md.
TYPE_PREFIX: Final = "/problems/"


class FieldError(Model):
    """One invalid input: where it was (body, query, path), which field, and what is wrong."""

    field: str = Field(description="The field's name; nested fields are dotted (address.city).")
    location: str | None = Field(default=None, description="body, query or path")
    message: str


class Problem(Model):
    """An RFC 9457 problem details object: the body of every error response."""

    type: str = Field(description="A URI reference naming the kind of problem (see docs/api.md).")
    title: str = Field(description="A short summary of the kind of problem; the same for every instance.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What happened this time, and what to do about it.")
    instance: str = Field(description="The request path the problem occurred on.")
    errors: list[FieldError] | None = Field(default=None, description="Invalid fields (422 only).")


class ApiError(FiscalMixError):
    """An error the API answers with a fixed status; its message is the problem's detail."""

    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"


class NotFound(ApiError):
    """Nothing the caller can see has this id: the same answer whether it exists elsewhere or not."""

    status = 404
    slug = "not-found"
    title = "Not found"

    def __init__(self, what: str) -> None:
        super().__init__(f"There is no {what} with this id in your account.")


class Forbidden(ApiError):
    """The caller can see the resource but their role does not allow this action."""

    status = 403
    slug = "forbidden"
    title = "Not allowed"


class MfaRequired(Forbidden):
    """The account requires TOTP MFA and the caller has not enabled it."""

    slug = "mfa-required"
    title = "Multi-factor authentication required"


class Unauthenticated(ApiError):
    """No verified identity reached the function (only possible if a route lost its authorizer)."""

    status = 401
    slug = "unauthenticated"
    title = "Not signed in"


class Conflict(ApiError):
    """The request contradicts the current state (a duplicate, the last owner leaving)."""

    status = 409
    slug = "conflict"
    title = "Conflict"


class CertificateRejected(ApiError):
    """An uploaded certificate cannot be used; the detail says why and what to do."""

    status = 422
    slug = "certificate-rejected"
    title = "Certificate rejected"


class DependencyUnavailable(FiscalMixError):
    """An AWS service the API calls (Cognito, KMS) failed; the message is logged, never shown."""


@dataclass(frozen=True, slots=True)
class _Kind:
    status: int
    slug: str
    title: str


_NOT_FOUND: Final = _Kind(404, "not-found", "Not found")
_UNPROCESSABLE: Final = _Kind(422, "invalid-request", "Invalid request")
_UNAVAILABLE: Final = _Kind(503, "service-unavailable", "Service unavailable")
_INTERNAL: Final = _Kind(500, "internal-error", "Internal error")

# Errors raised below the API: their status, and whether their message may be shown as is.
_DOMAIN_ERRORS: Final[tuple[tuple[type[Exception], _Kind, bool], ...]] = (
    (RecordNotFound, _NOT_FOUND, False),
    (RecordExists, _Kind(409, "conflict", "Conflict"), True),
    (CertificateError, _Kind(422, "certificate-rejected", "Certificate rejected"), True),
    (InvalidValue, _UNPROCESSABLE, True),
    (StorageUnavailable, _UNAVAILABLE, False),
    (EncryptionError, _UNAVAILABLE, False),
    (DependencyUnavailable, _UNAVAILABLE, False),
)
_GENERIC_DETAIL: Final = {
    404: "There is no such resource in your account.",
    503: "A service FiscalMix depends on did not answer; try again in a moment.",
    500: "Something went wrong on our side; it has been logged. Try again, or contact support.",
}


def problem_for(exc: Exception, instance: str) -> Problem:
    """The problem details for an exception raised while serving ``instance`` (the path)."""
    if isinstance(exc, ApiError):
        return _problem(_Kind(exc.status, exc.slug, exc.title), str(exc), instance)
    for error_type, kind, show_message in _DOMAIN_ERRORS:
        if isinstance(exc, error_type):
            detail = str(exc) if show_message else _GENERIC_DETAIL[kind.status]
            errors = (
                [FieldError(field=exc.field, message=exc.problem)] if isinstance(exc, InvalidValue) else None
            )
            return _problem(kind, detail, instance, errors)
    return _problem(_INTERNAL, _GENERIC_DETAIL[500], instance)


def validation_problem(errors: Sequence[FieldError], instance: str) -> Problem:
    """The 422 for a request that failed schema validation, naming every invalid field."""
    names = ", ".join(sorted({e.field for e in errors})) or "the request"
    return _problem(_UNPROCESSABLE, f"Check {names}: see errors for what is wrong.", instance, list(errors))


def route_not_found(instance: str) -> Problem:
    """The 404 for a path or method the API does not have."""
    return _problem(_NOT_FOUND, "The API has no such route; see /docs for the routes it has.", instance)


def is_server_error(problem: Problem) -> bool:
    """True for problems caused on our side, which are logged with their traceback."""
    return problem.status >= 500


def _problem(kind: _Kind, detail: str, instance: str, errors: list[FieldError] | None = None) -> Problem:
    return Problem(
        type=TYPE_PREFIX + kind.slug,
        title=kind.title,
        status=kind.status,
        detail=detail,
        instance=instance,
        errors=errors,
    )
