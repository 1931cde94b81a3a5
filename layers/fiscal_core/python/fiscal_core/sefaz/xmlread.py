"""Reading answers by local name, through the hardened parser, with errors that say what is missing.

Answers are matched by local name, not by namespace: the AN wraps the same payload differently
per operation and SOAP version (``nfeResultMsg`` or ``nfeRecepcaoEventoNFResult``), and the
payload's namespace is checked once, on its root, where a mismatch means a different document.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

from lxml import etree

from fiscal_core.errors import DocumentError
from fiscal_core.sefaz.errors import MalformedResponse
from fiscal_core.xmlsafe import parse_xml

MAX_ANSWER_BYTES = 20 * 1024 * 1024
"""The largest answer read: 50 docZips of full NF-e stay far below."""


def parse_answer(data: bytes, what: str) -> etree._Element:
    """Parse an answer with :func:`fiscal_core.xmlsafe.parse_xml`; MalformedResponse names ``what``."""
    try:
        return parse_xml(data, max_bytes=MAX_ANSWER_BYTES)
    except DocumentError as exc:
        raise MalformedResponse(f"{what}: {exc}") from None


def default_nsmap(namespace: str) -> dict[str, str]:
    """A namespace map making ``namespace`` the default: SEFAZ rejects prefixes (cStat 404)."""
    # lxml takes None as the default prefix, although lxml-stubs admit only str keys.
    return cast("dict[str, str]", {None: namespace})


def local_name(element: etree._Element) -> str:
    """The element's name without its namespace."""
    return etree.QName(element).localname


def children(element: etree._Element, name: str) -> Iterator[etree._Element]:
    """The child elements called ``name``, in any namespace."""
    for node in element:
        if isinstance(node.tag, str) and local_name(node) == name:
            yield node


def child(element: etree._Element, name: str) -> etree._Element | None:
    """The first child element called ``name``, or None."""
    return next(children(element, name), None)


def descendant(element: etree._Element, name: str) -> etree._Element | None:
    """The first element called ``name`` at or below ``element``, in document order, or None."""
    for node in element.iter():
        if isinstance(node.tag, str) and local_name(node) == name:
            return node
    return None


def optional_text(element: etree._Element, name: str) -> str | None:
    """The stripped text of child ``name``; None when the child is absent."""
    node = child(element, name)
    return None if node is None else (node.text or "").strip()


def required_text(element: etree._Element, name: str) -> str:
    """The stripped, non-empty text of child ``name``; MalformedResponse when absent or empty."""
    text = optional_text(element, name)
    if not text:
        raise MalformedResponse(f"{local_name(element)} has no {name}: the answer is incomplete")
    return text


def require_namespace(element: etree._Element, namespace: str) -> None:
    """Raise MalformedResponse unless ``element`` is in ``namespace`` (an NF-e answer is not a CT-e one)."""
    actual = etree.QName(element).namespace
    if actual != namespace:
        raise MalformedResponse(
            f"{local_name(element)} is in namespace {actual!r}, expected {namespace!r}: not the "
            "answer to this request"
        )
