"""The Powertools logger, tracer and metrics every FiscalMix function uses.

The service name comes from ``POWERTOOLS_SERVICE_NAME``, which CDK sets per function; the log
level from ``LOG_LEVEL``. Handlers import these three objects and stack their decorators:
``logger.inject_lambda_context``, ``tracer.capture_lambda_handler``, ``metrics.log_metrics``.

The logger redacts secret-bearing keys wherever they appear in a record (extra keys, a logged
event, nested dicts), because a handler that logs an event or a request model must never leak a
certificate, its password or a bearer token into CloudWatch.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths

from fiscal_core.settings import METRICS_NAMESPACE

REDACTED: Final = "***"
# Matched against normalised key names (lower case, no "-" or "_"), so "Authorization",
# "x-api-key", "pfx_base64" and "privateKey" are all caught.
_SECRET_KEY = re.compile(r"password|passwd|secret|pfx|privatekey|token|authorization|apikey|cookie")

API_GATEWAY_HTTP_CORRELATION: Final = correlation_paths.API_GATEWAY_HTTP


def _is_secret(key: object) -> bool:
    return isinstance(key, str) and bool(_SECRET_KEY.search(key.lower().replace("-", "").replace("_", "")))


def redact(value: Any) -> Any:
    """A copy of ``value`` whose secret-named keys, at any depth, hold ``REDACTED``."""
    if isinstance(value, dict):
        return {k: REDACTED if _is_secret(k) else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def _serialize(record: dict[str, Any]) -> str:
    return json.dumps(redact(record), default=str, separators=(",", ":"), ensure_ascii=False)


logger: Final = Logger(json_serializer=_serialize)
tracer: Final = Tracer()
metrics: Final = Metrics(namespace=METRICS_NAMESPACE)
