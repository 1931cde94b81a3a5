"""Handlers of the runtime test stack: they record what they receive so tests can assert it."""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import boto3

CALLS: dict[str, list[Any]] = {}
_lock = threading.Lock()


def _record(name: str, event: Any) -> None:
    with _lock:
        CALLS.setdefault(name, []).append(event)


def step(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A Step Functions task: counts pages until three are done."""
    _record("step", event)
    page = int(event.get("page", 0)) + 1
    return {"page": page, "done": page >= 3, "wait_seconds": 0, "function": context.function_name}


def worker(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """An SQS consumer that fails the records whose body is 'poison'."""
    failures = []
    for record in event["Records"]:
        _record("worker", record["body"])
        if record["body"] == "poison":
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def tick(event: dict[str, Any], context: Any) -> None:
    """A schedule's target."""
    _record("tick", event)


def bridge(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A WebSocket route handler: refuses connections without ?token=ok, echoes through @connections."""
    request = event["requestContext"]
    route = request["routeKey"]
    _record("bridge", route)
    if route == "$connect":
        allowed = (event.get("queryStringParameters") or {}).get("token") == "ok"
        return {"statusCode": 200 if allowed else 401}
    if route == "echo":
        client = boto3.client(
            "apigatewaymanagementapi", endpoint_url=os.environ["AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI"]
        )
        body = json.loads(event["body"])
        client.post_to_connection(
            ConnectionId=request["connectionId"], Data=json.dumps({"echo": body["data"]})
        )
    return {"statusCode": 200}
