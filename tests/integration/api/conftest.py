"""The whole product stack on one machine for the API's integration tests.

One LocalSystem for the package, on a stage of its own ("apitest"): moto's state is per process
and other integration tests use other stages. Requests go through the local HTTP gateway, whose
JWT authorizer verifies real Cognito access tokens as API Gateway would.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fiscal_core.api.services import get_services
from fiscal_core.settings import ENV_SYNC_PAGE_PAUSE_SECONDS, get_settings
from local.synth import synthesize_template
from local.system import LocalOptions, LocalSystem
from tests.integration.api.client import Api, Users
from tests.integration.api.world import World, build_world

STAGE = "apitest"


@pytest.fixture(scope="package")
def template() -> dict[str, Any]:
    """The product stack's CloudFormation template, synthesized once."""
    return synthesize_template(STAGE)


@pytest.fixture(scope="package")
def system(template: dict[str, Any]) -> Iterator[LocalSystem]:
    # The API builds its services once per process; a stage of its own needs fresh ones.
    get_services.cache_clear()
    get_settings.cache_clear()
    # No pause between distribution pages: a sync started through the API ends in seconds.
    options = LocalOptions(
        stage=STAGE, template=template, start_schedules=False, environment={ENV_SYNC_PAGE_PAUSE_SECONDS: "0"}
    )
    running = LocalSystem(options)
    running.start()
    yield running
    running.stop()
    get_services.cache_clear()
    get_settings.cache_clear()


@pytest.fixture(scope="package")
def api(system: LocalSystem) -> Api:
    return Api(next(iter(system.http_gateways.values())).url)


@pytest.fixture(scope="package")
def users(system: LocalSystem) -> Users:
    return Users(system)


@pytest.fixture(scope="package")
def world(api: Api, users: Users) -> World:
    """Accounts A and B (see world.py); tests only read B's data or fail to change it."""
    return build_world(api, users)
