"""What the bridge's functions (and the API, which posts ``paired`` and cuts revoked agents off)
read from their environment besides :class:`fiscal_core.settings.Settings`."""

from __future__ import annotations

import os
from typing import Final

from pydantic import ConfigDict, Field

from fiscal_core.container import once_per_container
from fiscal_core.model import Model

# https://{api-id}.execute-api.{region}.amazonaws.com/{stage}: where @connections is served.
ENV_MANAGEMENT_URL: Final = "FISCALMIX_BRIDGE_MANAGEMENT_URL"
ENV_LINK_SECONDS: Final = "FISCALMIX_BRIDGE_LINK_SECONDS"


class BridgeSettings(Model):
    """The management endpoint of the agents' WebSocket API, and how long S3 links live."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    management_url: str | None = Field(
        default=None,
        validation_alias=ENV_MANAGEMENT_URL,
        description="The @connections endpoint; without it boto3's own resolution applies "
        "(AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI locally).",
    )
    # Long enough for the agent to fetch a body and make a slow SEFAZ exchange, short enough that
    # a link seen in a log is useless soon after.
    link_seconds: int = Field(default=300, ge=30, le=3600, validation_alias=ENV_LINK_SECONDS)


@once_per_container
def get_bridge_settings() -> BridgeSettings:
    """The process's bridge settings, read once; tests call ``get_bridge_settings.cache_clear()``."""
    return BridgeSettings.model_validate(dict(os.environ))
