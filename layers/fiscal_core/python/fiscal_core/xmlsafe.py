"""The one hardened XML parser of FiscalMix: every XML from outside goes through ``parse_xml``.

Fiscal documents arrive from SEFAZ, the ADN, customers and support tickets, so the parser treats
all of them as hostile: no entity substitution, no DTD loading, no network, libxml2's default
size and depth limits, and a cap on the input size. Fiscal XML never carries a DOCTYPE, and DTDs
are how entity-expansion ("billion laughs") and external-entity (XXE) attacks work, so any
document that declares one is refused outright.
"""

from __future__ import annotations

import threading
from typing import Final

from lxml import etree

from fiscal_core.errors import DocumentError

DEFAULT_MAX_BYTES: Final = 10 * 1024 * 1024
# libxml2 compiles XML Schemas with process-wide state: two threads compiling at once can corrupt
# it ("not a built-in type"). Every XSD compiled in the process goes through this lock, and each
# validation through it too, so a shared schema's error log is the one of its own call.
SCHEMA_LOCK: Final = threading.Lock()
"""The largest XML accepted by default; a real NF-e with hundreds of items stays well below."""

# What a user should hear for libxml2's error codes; any other code reads as malformed XML.
_PROBLEM_BY_ERROR_CODE: Final[dict[int, str]] = {
    etree.ErrorTypes.ERR_RESOURCE_LIMIT: "refused: the XML exceeds the parser's safety limits "
    "(an entity-expansion bomb or an oversized node)",
    etree.ErrorTypes.ERR_DOCUMENT_EMPTY: "not XML: no root element found",
    etree.ErrorTypes.ERR_INVALID_ENCODING: "wrong character encoding (fiscal XML must be UTF-8)",
    etree.ErrorTypes.ERR_UNSUPPORTED_ENCODING: "wrong character encoding (fiscal XML must be UTF-8)",
    etree.ErrorTypes.ERR_UNKNOWN_ENCODING: "wrong character encoding (fiscal XML must be UTF-8)",
}

# Files people mistake for XML, recognised by their first bytes.
_KNOWN_BINARY: Final[dict[bytes, str]] = {
    b"\x1f\x8b": "gzip-compressed data (a docZip must be decoded first)",
    b"PK\x03\x04": "a ZIP archive",
    b"%PDF": "a PDF file",
}


class _ThreadParsers(threading.local):
    """One parser per thread: building one is costly, and lxml parsers are not thread-safe."""

    def __init__(self) -> None:
        self.parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            # c14n without comments (what XMLDSig uses here) ignores them, so they carry nothing.
            remove_comments=True,
        )


_parsers = _ThreadParsers()


def parse_xml(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """Parse untrusted XML and return its root element; raise DocumentError saying what is wrong.

    Refuses input larger than ``max_bytes``, empty input, binary data, malformed or truncated XML,
    a wrong encoding, and any DOCTYPE (so entity bombs and external entities never get expanded).
    """
    if not data or data.isspace():
        raise DocumentError(f"empty document: {len(data)} bytes and no XML in them")
    if len(data) > max_bytes:
        raise DocumentError(f"document too large: {len(data)} bytes, the limit is {max_bytes}")
    for magic, what in _KNOWN_BINARY.items():
        if data.startswith(magic):
            raise DocumentError(f"not XML: the content is {what}")
    try:
        root = etree.fromstring(data, _parsers.parser)
    except etree.XMLSyntaxError as exc:
        raise DocumentError(_describe_syntax_error(exc)) from None
    if root.getroottree().docinfo.internalDTD is not None:
        raise DocumentError(
            "refused: the XML declares a DOCTYPE; fiscal documents never carry one, and DTDs are "
            "how entity-expansion and external-entity (XXE) attacks work"
        )
    return root


def _describe_syntax_error(exc: etree.XMLSyntaxError) -> str:
    code: int = getattr(exc, "code", 0)  # lxml-stubs omit XMLSyntaxError.code
    problem = _PROBLEM_BY_ERROR_CODE.get(code, "malformed or truncated XML")
    return f"{problem}: {exc.msg}"  # lxml's msg already ends with the line and column
