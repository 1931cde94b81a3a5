"""Intrinsic functions and creation order of the local template deployer."""

from __future__ import annotations

from typing import Any

import pytest

from local.cfn.intrinsics import ResolveContext, TemplateError, creation_order, resolve
from local.cfn.stack import FunctionRecord, function_name_of, shared_environment


@pytest.fixture
def context() -> ResolveContext:
    ctx = ResolveContext(account="123456789012", region="sa-east-1", stack_name="FiscalMix-local")
    ctx.refs["Queue"] = "http://localhost/123456789012/q"
    ctx.refs["Pool"] = "sa-east-1_abc"
    ctx.attributes[("Queue", "Arn")] = "arn:aws:sqs:sa-east-1:123456789012:q"
    return ctx


def test_resolves_the_functions_cdk_emits(context: ResolveContext) -> None:
    value = {
        "Issuer": {
            "Fn::Join": [
                "",
                ["https://cognito-idp.", {"Ref": "AWS::Region"}, ".amazonaws.com/", {"Ref": "Pool"}],
            ]
        },
        "Arn": {"Fn::GetAtt": ["Queue", "Arn"]},
        "Dotted": {"Fn::GetAtt": "Queue.Arn"},
        "Sub": {"Fn::Sub": "arn:${AWS::Partition}:s3:::bucket-${AWS::AccountId}/${Queue.Arn}"},
        "SubVars": {"Fn::Sub": ["${X}-${AWS::Region}", {"X": {"Ref": "Pool"}}]},
        "Select": {"Fn::Select": [1, {"Fn::Split": [":", {"Fn::GetAtt": ["Queue", "Arn"]}]}]},
        "List": [{"Ref": "Queue"}, "plain"],
    }
    assert resolve(value, context) == {
        "Issuer": "https://cognito-idp.sa-east-1.amazonaws.com/sa-east-1_abc",
        "Arn": "arn:aws:sqs:sa-east-1:123456789012:q",
        "Dotted": "arn:aws:sqs:sa-east-1:123456789012:q",
        "Sub": "arn:aws:s3:::bucket-123456789012/arn:aws:sqs:sa-east-1:123456789012:q",
        "SubVars": "sa-east-1_abc-sa-east-1",
        "Select": "aws",
        "List": ["http://localhost/123456789012/q", "plain"],
    }


def test_unknown_references_and_functions_fail_loudly(context: ResolveContext) -> None:
    with pytest.raises(TemplateError, match="Ref to Missing"):
        resolve({"Ref": "Missing"}, context)
    with pytest.raises(TemplateError, match=r"Fn::GetAtt Queue\.Nope"):
        resolve({"Fn::GetAtt": ["Queue", "Nope"]}, context)
    with pytest.raises(TemplateError, match="Fn::If is not supported"):
        resolve({"Fn::If": ["Cond", 1, 2]}, context)


def test_creation_order_follows_references_and_depends_on() -> None:
    resources: dict[str, dict[str, Any]] = {
        "Alias": {"Properties": {"TargetKeyId": {"Fn::GetAtt": ["Key", "Arn"]}}},
        "Key": {"Properties": {}},
        "Policy": {"Properties": {"Bucket": {"Fn::Sub": "${Bucket}"}}, "DependsOn": "Alias"},
        "Bucket": {"Properties": {}},
    }
    order = creation_order(resources)
    assert order.index("Key") < order.index("Alias") < order.index("Policy")
    assert order.index("Bucket") < order.index("Policy")


def test_circular_references_are_refused() -> None:
    resources = {"A": {"Properties": {"X": {"Ref": "B"}}}, "B": {"Properties": {"Y": {"Ref": "A"}}}}
    with pytest.raises(TemplateError, match="circular"):
        creation_order(resources)


@pytest.mark.parametrize(
    "reference",
    [
        "fiscalmix-local-api",
        "arn:aws:lambda:sa-east-1:123456789012:function:fiscalmix-local-api",
        "arn:aws:lambda:sa-east-1:123456789012:function:fiscalmix-local-api:live",
        "arn:aws:apigateway:sa-east-1:lambda:path/2015-03-31/functions/"
        "arn:aws:lambda:sa-east-1:123456789012:function:fiscalmix-local-api/invocations",
    ],
)
def test_function_names_from_every_reference_form(reference: str) -> None:
    assert function_name_of(reference) == "fiscalmix-local-api"


def test_shared_environment_keeps_only_agreed_values() -> None:
    functions = {
        name: FunctionRecord(name, name, "h.h", 3, {"TABLE": "t", "POWERTOOLS_SERVICE_NAME": name})
        for name in ("api", "sync")
    }
    assert shared_environment(functions) == {"TABLE": "t"}
