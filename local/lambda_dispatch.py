"""Route moto's Lambda invocations to FiscalMix's real handlers, in-process.

moto without Docker answers every Lambda Invoke by echoing the payload (``LambdaSimpleBackend``).
Step Functions Lambda tasks and any code calling ``lambda:Invoke`` go through that method, so this
module replaces it with a lookup in a registry of real handlers. It is the ONLY place that relies
on moto's internals; ``tests/unit/local/test_lambda_dispatch.py`` fails loudly when an upgrade of
moto moves them.
"""

from __future__ import annotations

import json
import logging
import threading
import traceback
from dataclasses import dataclass
from typing import Any

from moto.awslambda_simple.models import LambdaSimpleBackend

from local.lambda_runtime import Handler, invoke

log = logging.getLogger("fiscalmix.local.lambda")


@dataclass(frozen=True)
class LocalFunction:
    """A Lambda function as the local runtime knows it: its name, handler and timeout."""

    name: str
    handler: Handler
    timeout_seconds: float = 30.0


class FunctionRegistry:
    """Function name → real handler; consulted by moto's Invoke and by the local gateways."""

    def __init__(self) -> None:
        self._functions: dict[str, LocalFunction] = {}
        self._lock = threading.Lock()

    def register(self, function: LocalFunction) -> None:
        """Make ``function`` invocable by its name (and by any ARN that ends with it)."""
        with self._lock:
            self._functions[function.name] = function

    def get(self, name_or_arn: str) -> LocalFunction | None:
        """The function for a name, a full ARN or a partial ARN; None when unknown."""
        # ARNs look like arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
        parts = name_or_arn.split(":")
        name = parts[6] if len(parts) >= 7 and parts[5] == "function" else parts[-1]
        with self._lock:
            return self._functions.get(name)

    def names(self) -> list[str]:
        """The registered function names, sorted."""
        with self._lock:
            return sorted(self._functions)


def _error_payload(exc: BaseException) -> bytes:
    # The shape Lambda returns for an unhandled error; Step Functions reads errorType as the
    # error name, so Retry and Catch clauses match the exception's class name as in AWS.
    return json.dumps(
        {
            "errorMessage": str(exc),
            "errorType": type(exc).__name__,
            "stackTrace": traceback.format_tb(exc.__traceback__),
        }
    ).encode()


def dispatch(registry: FunctionRegistry, function_name: str, body: Any) -> tuple[bytes, bool]:
    """Run the registered handler for ``function_name`` with ``body``; return (payload, failed)."""
    function = registry.get(function_name)
    if function is None:
        error = LookupError(f"no local handler registered for Lambda function {function_name!r}")
        return _error_payload(error), True
    raw = body.decode() if isinstance(body, bytes) else body
    event = json.loads(raw) if raw else {}
    try:
        result = invoke(function.handler, event, function.name, function.timeout_seconds)
    except Exception as exc:
        log.exception("Lambda %s failed", function.name)
        return _error_payload(exc), True
    return json.dumps(result, default=str).encode(), False


_original_invoke = LambdaSimpleBackend.invoke


def install(registry: FunctionRegistry) -> None:
    """Send every Lambda Invoke that moto receives to ``registry`` instead of echoing it."""

    def invoke_registered(
        self: LambdaSimpleBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> bytes:
        payload, failed = dispatch(registry, function_name, body)
        if failed:
            response_headers["x-amz-function-error"] = "Unhandled"
        return payload

    LambdaSimpleBackend.invoke = invoke_registered  # type: ignore[method-assign]


def uninstall() -> None:
    """Restore moto's own echoing Invoke."""
    LambdaSimpleBackend.invoke = _original_invoke  # type: ignore[method-assign]
