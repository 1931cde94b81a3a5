"""Checks on the message inside a SOAP body (distDFeInt, envEvento), in the order SEFAZ applies them.

SEFAZ refuses namespace prefixes (404) and formatting whitespace between tags (588) before it
validates against the schema (215). Schemas are the official XSDs shipped in nfelib.
"""

from __future__ import annotations

import copy
from typing import Final

from lxml import etree

from local.fixtures.xsd import load_schema
from local.sefaz.cstat import Code, Rejection

_MAX_REPORTED_ERRORS: Final = 3


def rerooted(element: etree._Element) -> etree._Element:
    """A copy of ``element`` as the root of its own document, keeping its namespace declarations."""
    return copy.deepcopy(element)


def message_problem(message: etree._Element | None, xsd: str) -> Rejection | None:
    """What is wrong with the message (a root element, see :func:`rerooted`), or None when valid."""
    if message is None:
        return Code.SCHEMA_INVALID, "no message inside the SOAP body"
    for element in message.iter(tag=etree.Element):
        if element.prefix is not None:
            return Code.NAMESPACE_PREFIX, f"prefix {element.prefix!r} on {etree.QName(element).localname}"
        if _formatting(element, message):
            return Code.FORMATTING_CHARACTERS, f"whitespace around {etree.QName(element).localname}"
    schema = load_schema(xsd)
    if schema.validate(message):
        return None
    return Code.SCHEMA_INVALID, "; ".join(str(schema.error_log).splitlines()[:_MAX_REPORTED_ERRORS])


def _formatting(element: etree._Element, message: etree._Element) -> bool:
    """True when whitespace-only text sits between tags: before a first child or after an element."""
    if len(element) and element.text is not None and not element.text.strip():
        return True
    return element is not message and element.tail is not None and not element.tail.strip()
