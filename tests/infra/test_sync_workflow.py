"""The sync workflow as synthesized: its states, retries, catches, schedule, roles and alarms."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from fiscal_core.settings import ENV_SEFAZ_CA_FILE, ENV_SEFAZ_ENVIRONMENT, ENV_SYNC_STATE_MACHINE_ARN
from fiscal_core.sync.contract import Next
from infra.constructs.sync import FANOUT_INPUT
from infra.stack import FiscalMixStack

pytestmark = pytest.mark.slow

ALL_ERRORS = ["States.ALL"]
WORKER_TASKS = ("Start", "FetchPage", "Finish", "MarkFailed")


@pytest.fixture(scope="module")
def resources(dev_stack: tuple[FiscalMixStack, Template]) -> dict[str, Any]:
    resources: dict[str, Any] = dev_stack[1].to_json()["Resources"]
    return resources


def _of_type(resources: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in resources.items() if r["Type"] == kind}


def _one(resources: dict[str, Any], kind: str, containing: str = "") -> tuple[str, dict[str, Any]]:
    (found,) = ((n, r["Properties"]) for n, r in _of_type(resources, kind).items() if containing in n)
    return found


def _logical_id(resources: dict[str, Any], kind: str, containing: str) -> str:
    return _one(resources, kind, containing)[0]


@pytest.fixture(scope="module")
def workflow(resources: dict[str, Any]) -> dict[str, Any]:
    _, props = _one(resources, "AWS::StepFunctions::StateMachine")
    # The definition is a Fn::Join of text and ARNs; the ARNs become readable placeholders.
    parts = props["DefinitionString"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else json.dumps(p).replace('"', "'") for p in parts)
    definition: dict[str, Any] = json.loads(text)
    return definition


def _statements(resources: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in _of_type(resources, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _grants(resources: dict[str, Any], role: str) -> dict[str, set[str]]:
    """Action → the resources it is allowed on, as JSON text (refs and joins kept readable)."""
    grants: dict[str, set[str]] = {}
    for statement in _statements(resources, role):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        targets = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        for action in actions:
            grants.setdefault(action, set()).update(json.dumps(t, sort_keys=True) for t in targets)
    return grants


def _arn_of(logical_id: str) -> str:
    return json.dumps({"Fn::GetAtt": [logical_id, "Arn"]}, sort_keys=True)


def _function_role(resources: dict[str, Any], handler: str) -> tuple[str, dict[str, Any]]:
    for name, function in _of_type(resources, "AWS::Lambda::Function").items():
        if function["Properties"]["Handler"] == handler:
            return name, function["Properties"]
    raise AssertionError(f"no function with handler {handler}")


def test_it_is_a_standard_traced_and_logged_state_machine(resources: dict[str, Any]) -> None:
    _, props = _one(resources, "AWS::StepFunctions::StateMachine")
    assert props["StateMachineType"] == "STANDARD"
    assert props["StateMachineName"] == "fiscalmix-dev-sync"
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["LoggingConfiguration"]["Level"] == "ALL"


def test_the_loop_routes_every_next_value_of_the_contract(workflow: dict[str, Any]) -> None:
    states = workflow["States"]
    new_run = states[workflow["StartAt"]]
    # A new run opens with START; a continuation (it carries its run id) goes on with STEP.
    (continuation,) = new_run["Choices"]
    assert {c["Variable"] for c in continuation["And"]} == {"$.run_id"}
    assert continuation["Next"] == "SetStep"
    assert new_run["Default"] == "SetStart"
    assert states["SetStart"] == {"Type": "Pass", "Result": "start", "ResultPath": "$.task", "Next": "Start"}
    assert states["Start"]["Next"] == states["FetchPage"]["Next"] == "Route"
    route = states["Route"]
    choices = {c["StringEquals"]: c["Next"] for c in route["Choices"] if c["Variable"] == "$.next"}
    assert set(choices) == {value.value for value in Next}
    assert choices["fetch"] == "SetStep" and states["SetStep"]["Next"] == "FetchPage"
    assert states["SetStep"]["Result"] == "step"
    assert states[choices["wait"]]["Next"] == "SetStep"
    assert states[choices["finish"]]["Next"] == "Finish"
    assert states["Finish"]["Next"] == "Done"
    for ending in ("continue", "skip"):
        assert states[choices[ending]]["Type"] == "Succeed"
    assert route["Default"] == "SetFail", "an unknown next fails the run through the Fail task"


def test_the_wait_is_data_from_the_worker(workflow: dict[str, Any]) -> None:
    (wait,) = (s for s in workflow["States"].values() if s["Type"] == "Wait")
    assert wait == {"Type": "Wait", "SecondsPath": "$.wait_seconds", "Next": "SetStep"}


def test_worker_tasks_answer_the_state_itself_and_retry_with_full_jitter(workflow: dict[str, Any]) -> None:
    states = workflow["States"]
    for name in WORKER_TASKS:
        task = states[name]
        # payload_response_only: the function's ARN as the resource, not lambda:invoke with a
        # Payload envelope, so the task's output is the SyncState alone.
        assert "Fn::GetAtt" in task["Resource"] and "lambda:invoke" not in task["Resource"]
        assert "Parameters" not in task and "OutputPath" not in task
        (retry,) = task["Retry"]
        assert retry["JitterStrategy"] == "FULL"
        assert retry["IntervalSeconds"] >= 1 and retry["BackoffRate"] > 1
        assert retry["MaxDelaySeconds"] >= retry["IntervalSeconds"]
        assert retry["MaxAttempts"] >= 3
        assert "States.ALL" not in retry["ErrorEquals"] and "States.TaskFailed" not in retry["ErrorEquals"]
        assert {"Lambda.ServiceException", "Lambda.TooManyRequestsException"} <= set(retry["ErrorEquals"])


def test_every_failure_goes_through_the_fail_task(workflow: dict[str, Any]) -> None:
    states = workflow["States"]
    for name in ("Start", "FetchPage", "Finish"):
        assert states[name]["Catch"] == [
            {"ErrorEquals": ALL_ERRORS, "ResultPath": "$.error", "Next": "SetFail"}
        ]
    assert states["SetFail"] == {
        "Type": "Pass",
        "Result": "fail",
        "ResultPath": "$.task",
        "Next": "MarkFailed",
    }
    mark_failed = states["MarkFailed"]
    assert mark_failed["Next"] == "Failed"
    assert mark_failed["Catch"] == [{"ErrorEquals": ALL_ERRORS, "ResultPath": "$.error", "Next": "Failed"}]
    assert states["Failed"]["Type"] == "Fail"


def test_the_schedule_ticks_every_quarter_hour_and_invokes_only_the_fanout(resources: dict[str, Any]) -> None:
    fanout, fanout_props = _function_role(resources, "functions.sync_worker.fanout.lambda_handler")
    _, schedule = _one(resources, "AWS::Scheduler::Schedule")
    assert schedule["ScheduleExpression"] == "rate(15 minutes)"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    target = schedule["Target"]
    assert target["Arn"] == {"Fn::GetAtt": [fanout, "Arn"]}
    assert json.loads(target["Input"]) == FANOUT_INPUT
    role = target["RoleArn"]["Fn::GetAtt"][0]
    assert resources[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "scheduler.amazonaws.com"
    }
    assert _grants(resources, role) == {"lambda:InvokeFunction": {_arn_of(fanout)}}
    assert fanout_props["Environment"]["Variables"][ENV_SYNC_STATE_MACHINE_ARN]


def test_the_workflow_role_invokes_the_worker_and_the_agent_dispatch_and_nothing_else(
    resources: dict[str, Any],
) -> None:
    worker, _ = _function_role(resources, "functions.sync_worker.handler.lambda_handler")
    dispatch, _ = _function_role(resources, "functions.ws_bridge.dispatch.lambda_handler")
    _, machine = _one(resources, "AWS::StepFunctions::StateMachine")
    grants = _grants(resources, machine["RoleArn"]["Fn::GetAtt"][0])
    invoke = grants.pop("lambda:InvokeFunction")
    assert invoke == {
        arn
        for function in (worker, dispatch)
        for arn in (
            _arn_of(function),
            json.dumps({"Fn::Join": ["", [{"Fn::GetAtt": [function, "Arn"]}, ":*"]]}),
        )
    }
    # What is left is log delivery and tracing, which accept no resource but "*".
    assert all(resources_ == {'"*"'} for resources_ in grants.values())
    assert {action.split(":")[0] for action in grants} == {"logs", "xray"}


def test_the_worker_queries_homologation_outside_production_and_knows_its_workflow(
    resources: dict[str, Any],
) -> None:
    _, props = _function_role(resources, "functions.sync_worker.handler.lambda_handler")
    _, fanout = _function_role(resources, "functions.sync_worker.fanout.lambda_handler")
    variables = props["Environment"]["Variables"]
    assert variables[ENV_SEFAZ_ENVIRONMENT] == "homologation"
    # SEFAZ's servers are vouched for by the ICP-Brasil roots the layer carries, nothing implicit.
    assert variables[ENV_SEFAZ_CA_FILE] == "/opt/python/fiscal_core/sefaz/trust/icp-brasil.pem"
    assert (
        variables[ENV_SYNC_STATE_MACHINE_ARN]
        == fanout["Environment"]["Variables"][ENV_SYNC_STATE_MACHINE_ARN]
    )
    assert "stateMachine:fiscalmix-dev-sync" in json.dumps(variables[ENV_SYNC_STATE_MACHINE_ARN])


def _table(resources: dict[str, Any], name: str) -> str:
    return _arn_of(_logical_id(resources, "AWS::DynamoDB::Table", f"Data{name}Table"))


def _index(resources: dict[str, Any], name: str, index: str) -> str:
    table = _logical_id(resources, "AWS::DynamoDB::Table", f"Data{name}Table")
    return json.dumps({"Fn::Join": ["", [{"Fn::GetAtt": [table, "Arn"]}, f"/index/{index}"]]}, sort_keys=True)


def _objects(resources: dict[str, Any], pattern: str) -> str:
    bucket = _logical_id(resources, "AWS::S3::Bucket", "DataDocumentsBucket")
    return json.dumps({"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, f"/{pattern}"]]}, sort_keys=True)


def test_the_worker_role_is_least_privilege(resources: dict[str, Any]) -> None:
    _, props = _function_role(resources, "functions.sync_worker.handler.lambda_handler")
    grants = _grants(resources, props["Role"]["Fn::GetAtt"][0])
    page_tables = {_table(resources, "Documents"), _table(resources, "DocumentEvents")}
    assert grants["dynamodb:BatchGetItem"] == grants["dynamodb:BatchWriteItem"] == page_tables
    assert grants["dynamodb:UpdateItem"] == {_table(resources, t) for t in ("SyncCursors", "SyncRuns")}
    assert grants["dynamodb:PutItem"] == page_tables | {
        _table(resources, t) for t in ("SyncCursors", "SyncRuns", "AuditLogs", "AgentRequests")
    }
    assert grants["dynamodb:GetItem"] == {
        _table(resources, t)
        for t in ("Documents", "SyncCursors", "SyncRuns", "Companies", "Certificates", "AgentRequests")
    }, "the audit log is append-only"
    assert grants["dynamodb:Query"] == {
        _table(resources, "DocumentEvents"),
        _index(resources, "Documents", "pending_summaries"),
        _index(resources, "Certificates", "by_company"),
        # An A3 run that waited in vain says whether the agent is offline, and since when.
        _table(resources, "Agents"),
        _table(resources, "AgentConnections"),
    }
    assert not any(a in grants for a in ("dynamodb:DeleteItem", "dynamodb:Scan", "s3:*", "kms:Encrypt"))
    assert grants["s3:PutObject"] == {_objects(resources, "*")}
    assert (
        grants["s3:GetObject"]
        == grants["s3:DeleteObject"]
        == {
            _objects(resources, "*/sync/*"),
            _objects(resources, "*/agent/*"),
        }
    )
    bucket = _logical_id(resources, "AWS::S3::Bucket", "DataDocumentsBucket")
    assert grants["s3:ListBucket"] == {_arn_of(bucket)}
    key = _arn_of(_logical_id(resources, "AWS::KMS::Key", "DataKey"))
    assert grants["kms:Decrypt"] == grants["kms:GenerateDataKey"] == {key}
    (start,) = grants["states:StartExecution"]
    assert "stateMachine:fiscalmix-dev-sync" in start, "only its own workflow, for continuations"
    assert {a for a, rs in grants.items() if '"*"' in rs} == {
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
    }


def test_the_fanout_role_reads_the_due_index_and_starts_executions_only(resources: dict[str, Any]) -> None:
    _, props = _function_role(resources, "functions.sync_worker.fanout.lambda_handler")
    grants = _grants(resources, props["Role"]["Fn::GetAtt"][0])
    cursors = _logical_id(resources, "AWS::DynamoDB::Table", "DataSyncCursorsTable")
    assert grants.pop("dynamodb:Query") == {
        json.dumps({"Fn::Join": ["", [{"Fn::GetAtt": [cursors, "Arn"]}, "/index/due"]]}, sort_keys=True)
    }
    assert grants.pop("dynamodb:GetItem") == {_arn_of(cursors)}
    (start,) = grants.pop("states:StartExecution")
    assert "stateMachine:fiscalmix-dev-sync" in start
    assert {action.split(":")[0] for action in grants} == {"logs", "xray"}


def test_workflow_and_functions_have_alarms(resources: dict[str, Any]) -> None:
    alarms = [a["Properties"] for a in _of_type(resources, "AWS::CloudWatch::Alarm").values()]
    by_metric = {(a["Namespace"], a["MetricName"]): a for a in alarms}
    failed = by_metric[("AWS/States", "ExecutionsFailed")]
    assert failed["Threshold"] == 1
    assert failed["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert failed["Dimensions"][0]["Name"] == "StateMachineArn"
    assert ("AWS/States", "ExecutionsTimedOut") in by_metric
    watched = {
        a["Dimensions"][0]["Value"]["Ref"]
        for a in alarms
        if (a["Namespace"], a["MetricName"]) == ("AWS/Lambda", "Errors")
    }
    worker, _ = _function_role(resources, "functions.sync_worker.handler.lambda_handler")
    fanout, _ = _function_role(resources, "functions.sync_worker.fanout.lambda_handler")
    assert {worker, fanout} <= watched


def test_the_state_machine_arn_is_an_output(dev_stack: tuple[FiscalMixStack, Template]) -> None:
    outputs = dev_stack[1].to_json()["Outputs"]
    assert "SyncStateMachineArn" in outputs
