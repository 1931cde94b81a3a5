"""The export queue, its worker and their grants, as the dev stage synthesizes them (cdk-nag included)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from fiscal_core.exports.task import ENV_MAX_RECEIVES, ENV_QUEUE_URL
from infra.constructs.exports import MAX_RECEIVES
from infra.stack import FiscalMixStack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def template(dev_stack: tuple[FiscalMixStack, Template]) -> Template:
    # The fixture's synthesis runs cdk-nag: reaching here means no finding is unacknowledged.
    return dev_stack[1]


@pytest.fixture(scope="module")
def resources(template: Template) -> dict[str, Any]:
    found: dict[str, Any] = template.to_json()["Resources"]
    return found


def _one(resources: dict[str, Any], kind: str, prefix: str) -> tuple[str, dict[str, Any]]:
    (match,) = [
        (k, v["Properties"]) for k, v in resources.items() if v["Type"] == kind and k.startswith(prefix)
    ]
    return match


def _policy_statements(resources: dict[str, Any], role_prefix: str) -> list[dict[str, Any]]:
    role, _ = _one(resources, "AWS::IAM::Role", role_prefix)
    return [
        statement
        for policy in resources.values()
        if policy["Type"] == "AWS::IAM::Policy" and {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_the_queue_is_encrypted_dead_lettered_and_outlasts_the_worker(resources: dict[str, Any]) -> None:
    dead_letters, dead_props = _one(resources, "AWS::SQS::Queue", "ExportsDeadLetters")
    _, queue = _one(resources, "AWS::SQS::Queue", "ExportsQueue")
    _, worker = _one(resources, "AWS::Lambda::Function", "ExportsWorkerFunction")
    assert queue["SqsManagedSseEnabled"] is True and dead_props["SqsManagedSseEnabled"] is True
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dead_letters, "Arn"]},
        "maxReceiveCount": MAX_RECEIVES,
    }
    assert queue["VisibilityTimeout"] >= 6 * worker["Timeout"]


def test_both_queues_refuse_plain_http(resources: dict[str, Any]) -> None:
    policies = [p["Properties"] for p in resources.values() if p["Type"] == "AWS::SQS::QueuePolicy"]
    queues = {ref["Ref"] for p in policies for ref in p["Queues"] if ref["Ref"].startswith("Exports")}
    assert len(queues) == 2
    for policy in policies:
        (statement,) = policy["PolicyDocument"]["Statement"]
        assert statement["Effect"] == "Deny"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_worker_takes_one_message_at_a_time_and_reports_failures(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "functions.export_worker.handler.lambda_handler",
            "Timeout": 900,
            "MemorySize": 1024,
            "Environment": {
                "Variables": Match.object_like({ENV_QUEUE_URL: Match.any_value(), ENV_MAX_RECEIVES: "3"})
            },
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"BatchSize": 1, "FunctionResponseTypes": ["ReportBatchItemFailures"]},
    )


def test_dead_letters_raise_an_alarm(resources: dict[str, Any]) -> None:
    dead_letters, _ = _one(resources, "AWS::SQS::Queue", "ExportsDeadLetters")
    _, alarm = _one(resources, "AWS::CloudWatch::Alarm", "ExportsDeadLettersAlarm")
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible" and alarm["Threshold"] == 1
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [dead_letters, "QueueName"]}}
    ]
    for other in ("ExportsQueueAgeAlarm", "ExportsWorkerErrorsAlarm"):
        assert _one(resources, "AWS::CloudWatch::Alarm", other)


def test_the_worker_role_names_every_action_and_resource(resources: dict[str, Any]) -> None:
    statements = _policy_statements(resources, "ExportsWorkerRole")
    actions = {
        a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert not {a for a in actions if "*" in a}
    text = json.dumps(statements)
    assert "/index/*" not in text
    assert {
        "s3:GetObject",
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "s3:ListBucketMultipartUploads",
    } <= actions
    item_actions = {f"dynamodb:{a}" for a in ("GetItem", "Query", "PutItem", "UpdateItem", "DeleteItem")}
    assert {a for a in actions if a.startswith("dynamodb:")} <= item_actions  # no Scan, no batch, no admin
    # The documents bucket is only read
    documents = [s for s in statements if "DataDocumentsBucket" in json.dumps(s["Resource"])]
    assert [s["Action"] for s in documents] == ["s3:GetObject"]


def test_the_api_can_queue_exports_and_sign_their_links(resources: dict[str, Any]) -> None:
    queue, _ = _one(resources, "AWS::SQS::Queue", "ExportsQueue")
    _, api = _one(resources, "AWS::Lambda::Function", "ApiHandlerFunction")
    assert api["Environment"]["Variables"][ENV_QUEUE_URL] == {"Ref": queue}
    statements = _policy_statements(resources, "ApiHandlerRole")
    sends = [s for s in statements if s["Resource"] == {"Fn::GetAtt": [queue, "Arn"]}]
    assert any("sqs:SendMessage" in s["Action"] for s in sends)
    exports_objects = [s for s in statements if "DataExportsBucket" in json.dumps(s["Resource"])]
    assert [s["Action"] for s in exports_objects] == ["s3:GetObject"]


def test_export_objects_expire_and_unfinished_uploads_are_aborted(resources: dict[str, Any]) -> None:
    _, bucket = _one(resources, "AWS::S3::Bucket", "DataExportsBucket")
    (rule,) = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == 7 and rule["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 1
    }
