"""CloudFormation intrinsic functions, resolved against the resources created so far.

Only the functions CDK emits for FiscalMix's stack are supported; anything else raises
:class:`TemplateError` naming it, so a new construct that needs more fails loudly.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class TemplateError(ValueError):
    """The template uses something the local deployer cannot resolve or create."""


@dataclass
class ResolveContext:
    """What Ref and Fn::GetAtt resolve to: pseudo parameters and the created resources."""

    account: str
    region: str
    stack_name: str
    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)

    def ref(self, name: str) -> str:
        """The value of ``{"Ref": name}``."""
        pseudo = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
            "AWS::NoValue": "",
        }
        if name in pseudo:
            return pseudo[name]
        if name not in self.refs:
            raise TemplateError(f"Ref to {name}, which is not created (yet)")
        return self.refs[name]

    def attribute(self, logical_id: str, name: str) -> str:
        """The value of ``{"Fn::GetAtt": [logical_id, name]}``."""
        try:
            return self.attributes[(logical_id, name)]
        except KeyError:
            raise TemplateError(f"Fn::GetAtt {logical_id}.{name} is not known locally") from None


def resolve(value: Any, context: ResolveContext) -> Any:
    """``value`` with every intrinsic function replaced by its value."""
    if isinstance(value, list):
        return [resolve(item, context) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((name, argument),) = value.items()
        function = _FUNCTIONS.get(name)
        if function is not None:
            return function(argument, context)
        if name.startswith("Fn::"):
            raise TemplateError(f"{name} is not supported by the local deployer")
    return {key: resolve(item, context) for key, item in value.items()}


def _join(argument: list[Any], context: ResolveContext) -> str:
    delimiter, items = argument
    return str(delimiter).join(str(item) for item in resolve(items, context))


def _get_att(argument: Any, context: ResolveContext) -> str:
    logical_id, name = argument.split(".", 1) if isinstance(argument, str) else argument
    return context.attribute(logical_id, name)


def _sub(argument: Any, context: ResolveContext) -> str:
    text, variables = (argument, {}) if isinstance(argument, str) else argument
    values = {name: str(resolve(v, context)) for name, v in variables.items()}

    def replace(match: re.Match[str]) -> str:
        name = match[1]
        if name in values:
            return values[name]
        if "." in name:
            return _get_att(name, context)
        return context.ref(name)

    return _SUB_VARIABLE.sub(replace, text)


def _select(argument: list[Any], context: ResolveContext) -> Any:
    index, items = argument
    return resolve(items, context)[int(resolve(index, context))]


def _split(argument: list[Any], context: ResolveContext) -> list[str]:
    delimiter, text = argument
    return str(resolve(text, context)).split(delimiter)


_FUNCTIONS = {
    "Ref": lambda argument, context: context.ref(argument),
    "Fn::GetAtt": _get_att,
    "Fn::Join": _join,
    "Fn::Sub": _sub,
    "Fn::Select": _select,
    "Fn::Split": _split,
}


def dependencies(value: Any) -> Iterator[str]:
    """The logical ids ``value`` refers to through Ref, Fn::GetAtt and Fn::Sub."""
    if isinstance(value, list):
        for item in value:
            yield from dependencies(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                yield item
            elif key == "Fn::GetAtt":
                yield (item.split(".", 1)[0] if isinstance(item, str) else item[0])
            elif key == "Fn::Sub":
                text = item if isinstance(item, str) else item[0]
                yield from (m.split(".", 1)[0] for m in _SUB_VARIABLE.findall(text))
                yield from dependencies(item)
            else:
                yield from dependencies(item)


def creation_order(resources: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The logical ids in an order where each comes after what it refers to or DependsOn."""
    pending = {
        logical_id: {
            dep
            for dep in (*dependencies(resource.get("Properties", {})), *_depends_on(resource))
            if dep in resources
        }
        for logical_id, resource in resources.items()
    }
    ordered: list[str] = []
    while pending:
        ready = sorted(logical_id for logical_id, deps in pending.items() if not deps)
        if not ready:
            raise TemplateError(f"circular references among {sorted(pending)}")
        for logical_id in ready:
            del pending[logical_id]
            ordered.append(logical_id)
        for deps in pending.values():
            deps.difference_update(ready)
    return ordered


def _depends_on(resource: Mapping[str, Any]) -> list[str]:
    depends = resource.get("DependsOn", [])
    return [depends] if isinstance(depends, str) else list(depends)
