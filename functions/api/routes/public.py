"""Public routes: no token needed (API Gateway routes them without the authorizer)."""

from __future__ import annotations

from fiscal_core.api.openapi import public_responses
from fiscal_core.model import Model
from functions.api.router import resource_router

router = resource_router()


class Health(Model):
    """The API is up."""

    status: str


@router.get("/health", tags=["meta"], responses=public_responses(), security=[{}])
def health() -> Health:
    """Liveness: answers without touching any AWS resource, so it stays public and cheap."""
    return Health(status="ok")
