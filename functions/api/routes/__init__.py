"""The API's resources, one Router each; ``functions.api.handler`` includes every one of ROUTERS.

To add a resource: write ``functions/api/routes/<resource>.py`` with
``router = resource_router()`` (``functions.api.router``) and thin routes that take ``ctx: Ctx``
and call ``fiscal_core.api``; import the module here and add its router to ROUTERS. A route
imports its service module inside its body, so that a cold start loads only what its request
needs (docs/api.md, "Writing a route").
"""

from __future__ import annotations

from typing import Final

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from functions.api.routes import (
    account,
    agents,
    audit_logs,
    certificates,
    companies,
    documents,
    exports,
    identity,
    manifestacao,
    permissions,
    public,
    sync,
)

ROUTERS: Final[tuple[APIGatewayHttpRouter, ...]] = (
    public.router,
    identity.router,
    account.router,
    permissions.router,
    companies.router,
    certificates.router,
    agents.router,
    audit_logs.router,
    documents.router,
    exports.router,
    sync.router,
    manifestacao.router,
)
