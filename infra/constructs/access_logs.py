"""Access-log settings for an API Gateway v2 stage (HTTP or WebSocket): one JSON line per request.

CDK's ``IAccessLogSettings`` is an interface with no ready-made class; both APIs log through this
one, each with the fields its protocol has.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import jsii
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_logs as logs


@jsii.implements(apigwv2.IAccessLogSettings)
class AccessLogSettings:
    """Write ``fields`` (name: ``$context`` variable) as one JSON object per request to ``log_group``."""

    def __init__(self, log_group: logs.ILogGroup, fields: Mapping[str, str]) -> None:
        self._destination = apigwv2.LogGroupLogDestination(log_group)
        self._format = json.dumps(dict(fields))

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigateway.AccessLogFormat:
        return apigateway.AccessLogFormat.custom(self._format)
