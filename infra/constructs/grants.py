"""Least-privilege helpers the constructs share: table statements and cdk-nag's object findings.

A function's role names each table, and each index it queries, in a statement of its own: never
``Table.grant``, which adds every index of the table (``index/*``). Object grants must use a
wildcard under a bucket (keys embed the account and company, known only at run time), which
cdk-nag reports as AwsSolutions-IAM5; each such grant is acknowledged with its reason.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from fiscal_core.storage.tables import table_specs
from infra.constructs.data import DataConstruct

# A table's logical name, one of its indexes (None: the table itself), and the actions on it.
TableGrant = tuple[str, str | None, tuple[str, ...]]


def grant_tables(role: iam.IRole, data: DataConstruct, grants: Sequence[TableGrant]) -> None:
    """One statement per table or index ``grants`` names; a misspelt index fails the synth."""
    known = {spec.logical_name: {i.name for i in spec.indexes} for spec in table_specs()}
    for table_name, index, actions in grants:
        if index is not None and index not in known[table_name]:
            raise ValueError(f"{table_name} has no index {index}")
        arn = data.tables[table_name].table_arn
        resource = arn if index is None else f"{arn}/index/{index}"
        role.add_to_principal_policy(iam.PolicyStatement(actions=list(actions), resources=[resource]))


def arn_token(construct: IConstruct) -> str:
    """How cdk-nag names a resource's ARN in its findings: ``<LogicalId.Arn>``."""
    resource = construct.node.default_child
    if not isinstance(resource, CfnElement):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource of its own")
    return f"{Stack.of(construct).get_logical_id(resource)}.Arn"


def acknowledge_objects(role: iam.IRole, bucket: IConstruct, objects: str, reason: str) -> None:
    """Acknowledge the wildcard of a grant on ``objects`` (``*``, ``*/sync/*``...) of ``bucket``."""
    Validations.of(role).acknowledge(
        Acknowledgment(id=f"AwsSolutions-IAM5[Resource::<{arn_token(bucket)}>/{objects}]", reason=reason)
    )
