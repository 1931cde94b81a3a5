"""What production changes: data is protected from deletion and outlives the stack."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.conftest import synth

pytestmark = pytest.mark.slow

KEPT_TYPES = ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::KMS::Key", "AWS::Logs::LogGroup")


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    _, template = synth("prod")
    resources: dict[str, Any] = template.to_json()["Resources"]
    return resources


def test_tables_are_deletion_protected(resources: dict[str, Any]) -> None:
    tables = [r for r in resources.values() if r["Type"] == "AWS::DynamoDB::Table"]
    assert tables
    assert all(t["Properties"]["DeletionProtectionEnabled"] is True for t in tables)


def test_data_and_logs_are_retained_when_the_stack_goes(resources: dict[str, Any]) -> None:
    kept = [r for r in resources.values() if r["Type"] in KEPT_TYPES]
    assert {r["Type"] for r in kept} == set(KEPT_TYPES)
    assert all(r["DeletionPolicy"] == "Retain" and r["UpdateReplacePolicy"] == "Retain" for r in kept)


def test_names_carry_the_stage(resources: dict[str, Any]) -> None:
    names = [r["Properties"]["TableName"] for r in resources.values() if r["Type"] == "AWS::DynamoDB::Table"]
    assert all(n.startswith("fiscalmix-prod-") for n in names)
    (alias,) = [r for r in resources.values() if r["Type"] == "AWS::KMS::Alias"]
    assert alias["Properties"]["AliasName"] == "alias/fiscalmix-prod"


def test_logs_are_kept_a_year(resources: dict[str, Any]) -> None:
    groups = [r for r in resources.values() if r["Type"] == "AWS::Logs::LogGroup"]
    assert all(g["Properties"]["RetentionInDays"] == 365 for g in groups)
