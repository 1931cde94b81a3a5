"""cdk-nag's AWS Solutions checks: wired into the stack, with nothing left unacknowledged.

The checks run as a validation plugin, so ``Template.from_stack`` raises on any finding. This
module adds one deliberately non-compliant bucket: synthesis must fail, and every finding must
point at that bucket, which shows the stack itself passes and that a new finding is not missed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Validations
from aws_cdk import aws_s3 as s3

from infra.stack import FiscalMixStack
from tests.infra.conftest import synth

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def failed_synth() -> tuple[FiscalMixStack, dict[str, Any]]:
    stacks: list[FiscalMixStack] = []

    def add_unsafe_bucket(stack: FiscalMixStack) -> None:
        stacks.append(stack)
        s3.Bucket(stack, "UnsafeBucket")

    with pytest.raises(RuntimeError, match="ValidationFailed"):
        synth("dev", customize=add_unsafe_bucket)
    (stack,) = stacks
    app = stack.node.root
    assert isinstance(app, App)
    report = json.loads((Path(app.outdir) / "validation-report.json").read_text())
    return stack, report


def _violations(report: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (violation["ruleName"], construct["constructPath"])
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    }


def test_a_new_finding_fails_synthesis(failed_synth: tuple[FiscalMixStack, dict[str, Any]]) -> None:
    _, report = failed_synth
    assert [p["pluginName"] for p in report["pluginReports"]] == ["AwsSolutions"]
    rules = {rule for rule, _ in _violations(report)}
    assert {"AwsSolutions-S1", "AwsSolutions-S10"} <= rules


def test_the_stack_itself_has_no_unacknowledged_finding(
    failed_synth: tuple[FiscalMixStack, dict[str, Any]],
) -> None:
    _, report = failed_synth
    elsewhere = {(rule, path) for rule, path in _violations(report) if "/UnsafeBucket/" not in path}
    assert elsewhere == set()


def test_every_acknowledgement_gives_its_reason(failed_synth: tuple[FiscalMixStack, dict[str, Any]]) -> None:
    stack, _ = failed_synth
    acknowledged = {
        rule: reason
        for construct in stack.node.find_all()
        for entry in construct.node.metadata
        if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY
        for rule, reason in entry.data.items()
    }
    assert acknowledged, "the stack acknowledges its known findings"
    for rule, reason in acknowledged.items():
        assert len(reason.split()) >= 8 and reason.endswith("."), rule
