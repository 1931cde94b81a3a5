"""A deployment stage: its name, read from CDK context, and what differs in production."""

from __future__ import annotations

import re
from dataclasses import dataclass

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Node

STAGE_CONTEXT_KEY = "stage"
DEFAULT_STAGE = "dev"
PRODUCTION = "prod"
# The name goes into bucket names, which allow only lower-case letters, digits and hyphens.
_STAGE_NAME = re.compile(r"[a-z][a-z0-9-]{0,15}")


@dataclass(frozen=True, slots=True)
class Stage:
    """One deployment of FiscalMix: ``dev``, ``prod`` or any short lower-case name."""

    name: str

    def __post_init__(self) -> None:
        if not _STAGE_NAME.fullmatch(self.name):
            raise ValueError(
                f"stage {self.name!r} must be 1-16 lower-case letters, digits or hyphens, "
                "starting with a letter (set it with `cdk deploy -c stage=<name>`)"
            )

    @classmethod
    def from_context(cls, node: Node) -> Stage:
        """The stage named by the ``stage`` context value, ``dev`` when it is absent."""
        return cls(str(node.try_get_context(STAGE_CONTEXT_KEY) or DEFAULT_STAGE))

    @property
    def production(self) -> bool:
        """Whether this stage holds customers' data."""
        return self.name == PRODUCTION

    @property
    def removal_policy(self) -> RemovalPolicy:
        """Production keeps its data when the stack goes; other stages clean up after themselves."""
        return RemovalPolicy.RETAIN if self.production else RemovalPolicy.DESTROY

    @property
    def log_retention(self) -> logs.RetentionDays:
        """How long function and access logs are kept."""
        return logs.RetentionDays.ONE_YEAR if self.production else logs.RetentionDays.ONE_MONTH
