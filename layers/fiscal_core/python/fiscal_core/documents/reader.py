"""Reading fiscal XML: parse once with the hardened parser, pick the layout, evaluate, check.

Each layout's XPath expressions are compiled once per process, on its first document: a cold
start that reads no XML (most API requests) does not pay for them. lxml serialises calls to one
compiled XPath object with a lock, so sharing them between threads is safe.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Final

from lxml import etree

from fiscal_core.documents.catalog import LAYOUTS
from fiscal_core.documents.layout import NAMESPACES, FieldName, Layout
from fiscal_core.documents.metadata import DocType, DocumentMetadata, Extraction, Family, Kind, Status
from fiscal_core.errors import DocumentError, UnsupportedDocument
from fiscal_core.identifiers import DocumentModel
from fiscal_core.xmlsafe import DEFAULT_MAX_BYTES, parse_xml

_SEFAZ_KEY: Final = (
    re.compile(r"[0-9]{6}[0-9A-Z]{12}[0-9]{26}"),
    "44 digits, letters allowed only in the CNPJ",
)
_KEY_SHAPES: Final[Mapping[Family, tuple[re.Pattern[str], str]]] = {
    Family.NFE: _SEFAZ_KEY,
    Family.CTE: _SEFAZ_KEY,
    Family.MDFE: _SEFAZ_KEY,
    Family.NFSE: (re.compile(r"[0-9]{50}"), "50 digits"),
}
_REQUIRED: Final[Mapping[Kind, tuple[FieldName, ...]]] = {
    Kind.DOCUMENT: ("access_key", "issued_at", "issuer_doc", "number"),
    Kind.SUMMARY: ("access_key", "issued_at", "issuer_doc"),
    Kind.EVENT: ("access_key", "event_type", "event_at", "author_doc"),
}
_DIGITS: Final = re.compile(r"[0-9]+")
_DECIMAL: Final = re.compile(r"[0-9]+(\.[0-9]+)?")
_EVENT_TYPE: Final = re.compile(r"[0-9]{6}")


class _InvalidField(Exception):
    """A located value that does not mean what its field needs; the reader adds the context."""


class _CompiledLayout:
    """A layout with its XPath expressions compiled, ready to read many documents."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        namespaces = {"d": NAMESPACES[layout.family]}
        # Plain strings and no EXSLT regular expressions: both cut the cost of every call.
        self.fields = tuple(
            (
                name,
                tuple(
                    etree.XPath(expression, namespaces=namespaces, smart_strings=False, regexp=False)
                    for expression in ((expressions,) if isinstance(expressions, str) else expressions)
                ),
            )
            for name, expressions in layout.fields.items()
        )

    def read(self, root: etree._Element) -> DocumentMetadata:
        layout = self.layout
        values: dict[FieldName, list[str]] = {name: _evaluate(xpaths, root) for name, xpaths in self.fields}
        schema = " ".join((layout.name, *values.get("version", ())))
        try:
            for name in _REQUIRED[layout.kind]:
                if not values.get(name):
                    raise _InvalidField(f"{name} not found ({self._where(name)})")
            access_key = self._access_key(values)
            model = _model(_text(values, "model"))
            return DocumentMetadata(
                family=layout.family,
                schema=schema,
                doc_type=self._doc_type(model),
                kind=layout.kind,
                access_key=access_key,
                model=int(model.value) if model else None,
                series=_integer(values, "series"),
                number=_integer(values, "number"),
                issued_at=_datetime(values, "issued_at"),
                issuer_doc=_text(values, "issuer_doc"),
                issuer_name=_text(values, "issuer_name"),
                recipient_doc=_text(values, "recipient_doc"),
                recipient_name=_text(values, "recipient_name"),
                total_value=_total(values),
                status=self._status(_text(values, "status_code")),
                protocol=_text(values, "protocol"),
                event_type=_event_type(values),
                event_description=_text(values, "event_description"),
                event_seq=_integer(values, "event_seq"),
                event_at=_datetime(values, "event_at"),
                author_doc=_text(values, "author_doc"),
            )
        except _InvalidField as exc:
            raise DocumentError(f"{schema}: {exc}") from None

    def _where(self, name: FieldName) -> str:
        expressions = self.layout.fields.get(name, "nowhere in this layout")
        first = expressions if isinstance(expressions, str) else expressions[0]
        return first.replace("d:", "")

    def _access_key(self, values: Mapping[FieldName, list[str]]) -> str:
        key = values["access_key"][0]
        shape, rule = _KEY_SHAPES[self.layout.family]
        if not shape.fullmatch(key):
            raise _InvalidField(f"access key {key!r} is malformed: it must be {rule}")
        protocol_key = _text(values, "protocol_key")
        if protocol_key is not None and protocol_key != key:
            raise _InvalidField(f"the protocol is for access key {protocol_key}, not for {key}")
        return key

    def _doc_type(self, model: DocumentModel | None) -> DocType:
        doc_type = self.layout.models.get(model)
        if doc_type is None:
            found = f"model {model.value} ({model.label})" if model else "no model"
            raise _InvalidField(f"{found} does not belong in a {self.layout.name}")
        return doc_type

    def _status(self, code: str | None) -> Status | None:
        if code is None:
            return self.layout.fixed_status
        status = self.layout.statuses.get(code)
        if status is None:
            known = ", ".join(self.layout.statuses)
            raise _InvalidField(
                f"status code {code} is none of those known for a {self.layout.name} ({known})"
            )
        return status


def _compiled(tag: str) -> _CompiledLayout | None:
    """The layout of a root element's tag, compiled on first use; None for no known layout."""
    # Looked up before the cache, so that unknown tags (any text a sender chooses) are not kept.
    return _compile(tag) if tag in LAYOUTS else None


@cache
def _compile(tag: str) -> _CompiledLayout:
    return _CompiledLayout(LAYOUTS[tag])


_NAMES: Final[Mapping[str, str]] = {layout.name: NAMESPACES[layout.family] for layout in LAYOUTS.values()}


def read_document(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> DocumentMetadata:
    """Read the metadata of one fiscal XML document, summary or event.

    Raises UnsupportedDocument for well-formed XML that is not a layout FiscalMix reads, and
    DocumentError for anything else wrong: hostile or malformed XML, a missing or invalid value.
    """
    root = parse_xml(data, max_bytes=max_bytes)
    compiled = _compiled(root.tag)
    if compiled is None:
        raise UnsupportedDocument(_unsupported(root))
    return compiled.read(root)


def extract_metadata(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Extraction:
    """Read one fiscal XML without raising: the metadata, or what is wrong and whether it is unsupported."""
    try:
        return Extraction(read_document(data, max_bytes=max_bytes))
    except UnsupportedDocument as exc:
        return Extraction(None, str(exc), unsupported=True)
    except DocumentError as exc:
        return Extraction(None, str(exc))


def _unsupported(root: etree._Element) -> str:
    name = etree.QName(root)
    expected = _NAMES.get(name.localname)
    found = f"namespace {name.namespace}" if name.namespace else "no namespace"
    if expected is not None and expected != name.namespace:
        return f"unsupported document: <{name.localname}> must be in namespace {expected}, found {found}"
    return f"unsupported document: <{name.localname}> ({found}) is not a fiscal document FiscalMix reads"


def _evaluate(xpaths: tuple[etree.XPath, ...], root: etree._Element) -> list[str]:
    """The texts the first productive expression selects, stripped, without empty ones."""
    for xpath in xpaths:
        result = xpath(root)
        items = result if isinstance(result, list) else [result]
        texts = [text.strip() for text in map(_text_of, items) if text and not text.isspace()]
        if texts:
            return texts
    return []


def _text_of(item: object) -> str | None:
    if isinstance(item, str):  # an attribute, text node or string function result
        return item
    if isinstance(item, etree._Element):
        return item.text
    raise TypeError(f"a layout expression yielded {type(item).__name__}; it must select text")


def _text(values: Mapping[FieldName, list[str]], name: FieldName) -> str | None:
    found = values.get(name)
    return found[0] if found else None


def _integer(values: Mapping[FieldName, list[str]], name: FieldName) -> int | None:
    text = _text(values, name)
    if text is None:
        return None
    if not _DIGITS.fullmatch(text):
        raise _InvalidField(f"{name} {text!r} is not a whole number")
    return int(text)


def _datetime(values: Mapping[FieldName, list[str]], name: FieldName) -> datetime | None:
    text = _text(values, name)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _InvalidField(f"{name} {text!r} is not a date-time") from None
    if moment.tzinfo is None:
        raise _InvalidField(f"{name} {text!r} has no UTC offset")
    return moment


def _total(values: Mapping[FieldName, list[str]]) -> Decimal | None:
    found = values.get("total_value")
    if not found:
        return None
    for text in found:
        if not _DECIMAL.fullmatch(text):
            raise _InvalidField(f"total_value {text!r} is not a decimal amount")
    return sum(map(Decimal, found), Decimal(0))


def _model(text: str | None) -> DocumentModel | None:
    if text is None:
        return None
    try:
        return DocumentModel(text)
    except ValueError:
        raise _InvalidField(f"model {text!r} is not a document model FiscalMix knows") from None


def _event_type(values: Mapping[FieldName, list[str]]) -> str | None:
    text = _text(values, "event_type")
    if text is not None and not _EVENT_TYPE.fullmatch(text):
        raise _InvalidField(f"event type {text!r} is not a six-digit tpEvento")
    return text
