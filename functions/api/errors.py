"""The one place errors become HTTP responses: every one an RFC 9457 problem details body.

Domain exceptions, Powertools' request validation errors, unknown routes and anything
unexpected all leave through :func:`register_error_handlers`; what status and words each gets is
decided by :mod:`fiscal_core.api.problems`.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from fiscal_core.api.problems import (
    PROBLEM_CONTENT_TYPE,
    FieldError,
    Problem,
    is_server_error,
    problem_for,
    route_not_found,
    validation_problem,
)
from fiscal_core.observability import logger


def register_error_handlers(app: APIGatewayHttpResolver) -> None:
    """Route every error of ``app`` to a problem details response."""

    def invalid_request(exc: RequestValidationError) -> Response[str]:
        return _respond(validation_problem([_field_error(e) for e in exc.errors()], _path(app)))

    def unknown_route(exc: NotFoundError) -> Response[str]:
        return _respond(route_not_found(_path(app)))

    def domain_or_unexpected(exc: Exception) -> Response[str]:
        problem = problem_for(exc, _path(app))
        if is_server_error(problem):
            logger.exception("request failed", extra={"problem": problem.type})
        else:
            logger.info("request refused", extra={"problem": problem.type, "status": problem.status})
        return _respond(problem)

    # Registered by call rather than as decorators: Powertools' decorators are untyped.
    app.exception_handler(RequestValidationError)(invalid_request)
    app.not_found(unknown_route)
    app.exception_handler(Exception)(domain_or_unexpected)


def _respond(problem: Problem) -> Response[str]:
    return Response(
        status_code=problem.status,
        content_type=PROBLEM_CONTENT_TYPE,
        body=problem.model_dump_json(exclude_none=True),
    )


def _path(app: APIGatewayHttpResolver) -> str:
    return app.current_event.raw_path


def _field_error(error: dict[str, Any]) -> FieldError:
    """Pydantic's error as the API names it; its ``input`` (possibly a password) is dropped."""
    location, *path = [str(part) for part in error.get("loc", ())] or ["body"]
    return FieldError(
        field=".".join(path) or location, location=location, message=error.get("msg", "invalid")
    )
