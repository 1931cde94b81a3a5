"""The local runtime runs what a synthesized template defines, through the real AWS event shapes.

The product stack gives the HTTP API, its Cognito authorizer and the data resources; a small
test stack (tests/integration/runtime/stack.py) gives one state machine, one SQS event source
with a DLQ, one schedule and one WebSocket API, each exactly as CDK synthesizes them.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from fiscal_core.storage.tables import physical_table_name, table_specs
from local.cli import create_demo_login
from local.synth import synthesize_template
from local.system import LocalOptions, LocalSystem
from tests.integration.runtime import handlers
from tests.integration.runtime.stack import build_template

pytestmark = pytest.mark.slow


def _wait_for(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


@pytest.fixture(scope="module")
def product() -> Iterator[LocalSystem]:
    # Its own stage: moto's state is per process, and the session's plane already holds "local".
    options = LocalOptions(stage="e2e", template=synthesize_template("e2e"), start_schedules=False)
    system = LocalSystem(options)
    system.start()
    yield system
    system.stop()


def _get(url: str, token: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_product_tables_are_the_models_tables(product: LocalSystem) -> None:
    dynamodb = product.aws.client("dynamodb")
    for spec in table_specs():
        table = dynamodb.describe_table(TableName=physical_table_name("fiscalmix-e2e", spec.logical_name))[
            "Table"
        ]
        assert {i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])} == {
            i.name for i in spec.indexes if not i.local
        }


def test_product_api_health_and_authorizer(product: LocalSystem) -> None:
    api = next(iter(product.http_gateways.values())).url
    assert _get(f"{api}/health") == (200, {"status": "ok"})
    status, body = _get(f"{api}/me")
    assert (status, body) == (401, {"message": "Unauthorized"})
    login = create_demo_login(product)
    status, body = _get(f"{api}/me", login.access_token)
    assert status == 200
    # The first authenticated request opens the new user's account, with them as its owner.
    assert body["user"]["email"] == login.email
    assert body["account"]["account_id"]
    assert body["user"]["account_role"] == "OWNER"


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalSystem]:
    handlers.CALLS.clear()
    options = LocalOptions(template=build_template(), stage="runtime", time_scale=3600.0)
    system = LocalSystem(options)
    system.start()
    yield system
    system.stop()


def test_state_machine_from_the_template_runs_its_lambda_tasks(runtime: LocalSystem) -> None:
    sfn = runtime.aws.client("stepfunctions")
    (arn,) = runtime.stack.state_machines.values()
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"page": 0}))
    _wait_for(lambda: sfn.describe_execution(executionArn=execution["executionArn"])["status"] != "RUNNING")
    described = sfn.describe_execution(executionArn=execution["executionArn"])
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"])["page"] == 3
    assert json.loads(described["output"])["function"] == "runtime-step"
    assert [call["page"] for call in handlers.CALLS["step"]] == [0, 1, 2]


def test_sqs_partial_failure_redelivers_the_failed_record_then_dead_letters_it(runtime: LocalSystem) -> None:
    sqs = runtime.aws.client("sqs")
    (source,) = runtime.stack.event_sources
    assert source.batch_size == 5
    assert source.report_batch_item_failures
    url = runtime.stack.queue_url(source.queue_arn)
    for body in ("ok-1", "poison", "ok-2"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    _wait_for(lambda: handlers.CALLS.get("worker", []).count("poison") == 2)
    dlq_url = next(u for u in sqs.list_queues()["QueueUrls"] if "Dlq" in u)
    _wait_for(lambda: "Messages" in (received := sqs.receive_message(QueueUrl=dlq_url)) and bool(received))
    assert handlers.CALLS["worker"].count("ok-1") == 1
    assert handlers.CALLS["worker"].count("ok-2") == 1


def test_scheduled_target_fires(runtime: LocalSystem) -> None:
    _wait_for(lambda: bool(handlers.CALLS.get("tick")))
    assert handlers.CALLS["tick"][0] == {"tick": 1}


def test_websocket_api_connect_refuse_route_and_connections(runtime: LocalSystem) -> None:
    (gateway,) = runtime.ws_gateways.values()
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{gateway.url}?token=bad", open_timeout=10).close()
    assert refused.value.response.status_code == 401
    with connect(f"{gateway.url}?token=ok", open_timeout=10) as socket:
        socket.send(json.dumps({"action": "echo", "data": "olá"}))
        assert json.loads(socket.recv(timeout=10)) == {"echo": "olá"}
    _wait_for(lambda: "$disconnect" in handlers.CALLS["bridge"])
