"""Step Functions Lambda tasks run the real handlers through the dispatch module.

This is also the canary for moto upgrades: local/lambda_dispatch.py patches moto internals, and
these tests fail with a clear message if those internals move.
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.server import ThreadedMotoServer

from local import lambda_dispatch
from local.lambda_dispatch import FunctionRegistry, LocalFunction

ROLE = "arn:aws:iam::123456789012:role/sfn"


class PageNotReady(Exception):
    """Raised by the test handler to prove Catch matches on the exception's class name."""


@pytest.fixture(scope="module")
def moto_endpoint(monkeypatch_module: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    monkeypatch_module.setenv("MOTO_PORT", str(port))
    endpoint = f"http://localhost:{port}"
    requests.post(
        f"{endpoint}/moto-api/config",
        json={"lambda": {"use_docker": False}, "stepfunctions": {"execute_state_machine": True}},
        timeout=5,
    ).raise_for_status()
    yield endpoint
    server.stop()


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            mp.setenv(name, value)
        yield mp


@pytest.fixture
def registry() -> Iterator[FunctionRegistry]:
    registry = FunctionRegistry()
    lambda_dispatch.install(registry)
    yield registry
    lambda_dispatch.uninstall()


def _run(endpoint: str, definition: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions", endpoint_url=endpoint)
    arn = sfn.create_state_machine(
        name=f"sm-{time.monotonic_ns()}", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(payload))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        if described["status"] != "RUNNING":
            return dict(described)
        time.sleep(0.05)
    raise AssertionError("state machine did not finish in 20 s")


def test_moto_internals_still_match_what_dispatch_patches() -> None:
    parameters = list(inspect.signature(LambdaSimpleBackend.invoke).parameters)
    assert parameters == ["self", "function_name", "qualifier", "body", "headers", "response_headers"], (
        "moto changed LambdaSimpleBackend.invoke; update local/lambda_dispatch.py to match"
    )


def test_lambda_tasks_run_the_registered_handlers(moto_endpoint: str, registry: FunctionRegistry) -> None:
    calls: list[dict[str, Any]] = []

    def fetch_page(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append(event)
        assert context.get_remaining_time_in_millis() > 0
        return {"nsu": event["nsu"] + 50, "function": context.function_name}

    registry.register(LocalFunction("fiscalmix-dev-fetch-page", fetch_page))
    arn = "arn:aws:lambda:us-east-1:123456789012:function:fiscalmix-dev-fetch-page"
    definition = {
        "StartAt": "Integration",
        "States": {
            "Integration": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": arn, "Payload.$": "$"},
                "ResultSelector": {"nsu.$": "$.Payload.nsu"},
                "Next": "Direct",
            },
            "Direct": {"Type": "Task", "Resource": arn, "End": True},
        },
    }
    result = _run(moto_endpoint, definition, {"nsu": 0})
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"]) == {"nsu": 100, "function": "fiscalmix-dev-fetch-page"}
    assert calls == [{"nsu": 0}, {"nsu": 50}]


def test_handler_errors_reach_catch_by_class_name(moto_endpoint: str, registry: FunctionRegistry) -> None:
    def failing(event: dict[str, Any], context: Any) -> None:
        raise PageNotReady("SEFAZ answered 656")

    registry.register(LocalFunction("fiscalmix-dev-failing", failing))
    definition = {
        "StartAt": "Fetch",
        "States": {
            "Fetch": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:fiscalmix-dev-failing",
                "Catch": [{"ErrorEquals": ["PageNotReady"], "ResultPath": "$.error", "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    result = _run(moto_endpoint, definition, {})
    assert result["status"] == "SUCCEEDED", result
    cause = json.loads(json.loads(result["output"])["error"]["Cause"])
    assert cause["errorType"] == "PageNotReady"
    assert cause["errorMessage"] == "SEFAZ answered 656"


def test_unknown_function_fails_the_task_clearly(moto_endpoint: str, registry: FunctionRegistry) -> None:
    definition = {
        "StartAt": "Fetch",
        "States": {
            "Fetch": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:nobody",
                "End": True,
            }
        },
    }
    result = _run(moto_endpoint, definition, {})
    assert result["status"] == "FAILED"
    assert "no local handler registered" in result.get("cause", "")
