"""Stage names end up in bucket names, so bad ones are refused before any synthesis."""

from __future__ import annotations

import pytest
from aws_cdk import App, RemovalPolicy

from infra.stage import Stage


@pytest.mark.parametrize("name", ["", "Prod", "1dev", "dev_1", "a-very-long-stage-name"])
def test_names_that_cannot_name_a_bucket_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="stage"):
        Stage(name)


def test_stage_comes_from_context_and_defaults_to_dev() -> None:
    assert Stage.from_context(App().node) == Stage("dev")
    assert Stage.from_context(App(context={"stage": "qa-2"}).node) == Stage("qa-2")


def test_only_prod_keeps_its_data() -> None:
    assert Stage("prod").removal_policy == RemovalPolicy.RETAIN
    assert Stage("dev").removal_policy == RemovalPolicy.DESTROY
