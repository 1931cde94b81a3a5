"""The one mapping from exceptions to problem details."""

from __future__ import annotations

import pytest

from fiscal_core.api.problems import (
    CertificateRejected,
    Conflict,
    DependencyUnavailable,
    Forbidden,
    MfaRequired,
    NotFound,
    problem_for,
    route_not_found,
)
from fiscal_core.certificates import WrongCertificatePassword
from fiscal_core.errors import EncryptionError, InvalidValue
from fiscal_core.storage.errors import RecordExists, RecordNotFound, StorageUnavailable


@pytest.mark.parametrize(
    ("error", "status", "type_"),
    [
        (NotFound("company"), 404, "/problems/not-found"),
        (RecordNotFound("company X was not found"), 404, "/problems/not-found"),
        (Forbidden("no"), 403, "/problems/forbidden"),
        (MfaRequired("enable it"), 403, "/problems/mfa-required"),
        (Conflict("dup"), 409, "/problems/conflict"),
        (RecordExists("dup"), 409, "/problems/conflict"),
        (CertificateRejected("expired"), 422, "/problems/certificate-rejected"),
        (WrongCertificatePassword("wrong"), 422, "/problems/certificate-rejected"),
        (InvalidValue("cnpj", "bad"), 422, "/problems/invalid-request"),
        (StorageUnavailable("throttled"), 503, "/problems/service-unavailable"),
        (EncryptionError("kms"), 503, "/problems/service-unavailable"),
        (DependencyUnavailable("cognito"), 503, "/problems/service-unavailable"),
        (KeyError("bug"), 500, "/problems/internal-error"),
    ],
)
def test_each_error_has_its_status_and_type(error: Exception, status: int, type_: str) -> None:
    problem = problem_for(error, "/companies/1")
    assert (problem.status, problem.type, problem.instance) == (status, type_, "/companies/1")
    assert problem.title and problem.detail


def test_internal_failures_name_no_internals() -> None:
    for error in (StorageUnavailable("table fiscalmix-prod-Users throttled"), KeyError("secret_field")):
        detail = problem_for(error, "/x").detail
        assert "fiscalmix-prod" not in detail
        assert "secret_field" not in detail


def test_a_missing_record_does_not_echo_its_id() -> None:
    assert "c-123" not in problem_for(RecordNotFound("company c-123 was not found"), "/x").detail


def test_invalid_value_names_the_field() -> None:
    problem = problem_for(InvalidValue("cursor", "belongs to another list"), "/companies")
    assert problem.errors is not None
    assert [(e.field, e.message) for e in problem.errors] == [("cursor", "belongs to another list")]


def test_unknown_route() -> None:
    problem = route_not_found("/nope")
    assert (problem.status, problem.type) == (404, "/problems/not-found")
