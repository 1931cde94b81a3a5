"""Synthesis helpers for the CDK tests: offline, without bundling, and never running pip."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.app import build_app
from infra.stack import FiscalMixStack


def _pip_must_not_run(*args: Any, **kwargs: Any) -> None:
    raise AssertionError(f"synthesis tried to run a subprocess: {args!r}")


def synth(
    stage: str = "dev", customize: Callable[[FiscalMixStack], None] | None = None
) -> tuple[FiscalMixStack, Template]:
    """Build the app as ``cdk synth`` would, with bundling skipped, and synthesize its one stack.

    Raises ``RuntimeError`` (ValidationFailed) when cdk-nag reports an unacknowledged finding.
    """
    # An empty bundling-stacks list makes every asset skip bundling: no pip, no network.
    app = build_app({"stage": stage, "aws:cdk:bundling-stacks": []})
    (stack,) = (child for child in app.node.children if isinstance(child, FiscalMixStack))
    if customize is not None:
        customize(stack)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("infra.bundling.subprocess.run", _pip_must_not_run)
        return stack, Template.from_stack(stack)


@pytest.fixture(scope="module")
def dev_stack() -> tuple[FiscalMixStack, Template]:
    """The dev stage, synthesized once per test module."""
    return synth("dev")
