"""What the Lambda service gives a handler, reproduced in-process: a context and an invoke call.

Every local plane (HTTP and WebSocket gateways, Step Functions tasks, the SQS poller and the
scheduler) calls handlers through :func:`invoke`, so they all see the same Lambda-like context.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LocalLambdaContext:
    """The attributes of ``aws_lambda_powertools.utilities.typing.LambdaContext`` handlers read."""

    function_name: str
    timeout_seconds: float = 30.0
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"

    @property
    def invoked_function_arn(self) -> str:
        """An ARN of the local account, as Powertools and metrics expect one."""
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before this invocation's timeout, never negative."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def invoke(handler: Handler, event: dict[str, Any], function_name: str, timeout_seconds: float = 30.0) -> Any:
    """Call ``handler`` as Lambda would: with the event and a fresh context."""
    context = LocalLambdaContext(function_name=function_name, timeout_seconds=timeout_seconds)
    return handler(event, context)
