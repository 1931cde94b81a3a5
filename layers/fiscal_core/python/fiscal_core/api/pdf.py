"""Printable renderings of fiscal documents (DANFE, DACTE...) with BrazilFiscalReport.

BrazilFiscalReport, fpdf2 and their fonts take over a second to import, so a renderer's module
is imported the first time a PDF of its type is asked for, never at cold start: most requests
the API serves need no PDF. The renderers parse with the standard library's ElementTree, so the
XML handed to them is first parsed by FiscalMix's hardened parser and serialised again: whatever
reaches them carries no DOCTYPE and no entity.
"""

from __future__ import annotations

import importlib
from typing import Any, Final

from lxml import etree

from fiscal_core.api.problems import ApiError
from fiscal_core.observability import logger
from fiscal_core.storage.records import DocType
from fiscal_core.xmlsafe import parse_xml

# Type → (module, class, the rendering's name as users know it).
RENDERERS: Final[dict[DocType, tuple[str, str, str]]] = {
    DocType.NFE: ("brazilfiscalreport.danfe", "Danfe", "DANFE"),
    DocType.NFCE: ("brazilfiscalreport.danfce", "Danfce", "DANFE NFC-e"),
    DocType.CTE: ("brazilfiscalreport.dacte", "Dacte", "DACTE"),
    DocType.MDFE: ("brazilfiscalreport.damdfe", "Damdfe", "DAMDFE"),
    DocType.NFSE: ("brazilfiscalreport.danfse", "Danfse", "DANFSE"),
}


class RenderFailed(ApiError):
    """The renderer could not lay out this XML; the XML itself is still downloadable."""

    status = 422
    slug = "pdf-unavailable"
    title = "PDF not available"


def render_pdf(doc_type: DocType, xml: bytes) -> bytes:
    """The PDF of a full document's XML (procNFe, procCTe, ...); RenderFailed if it cannot be made."""
    module_name, class_name, label = RENDERERS[doc_type]
    clean = etree.tostring(parse_xml(xml), encoding="unicode")
    renderer: Any = getattr(importlib.import_module(module_name), class_name)
    try:
        pdf: Any = renderer(xml=clean)
        return bytes(pdf.output())
    # A third-party layout engine fails in its own ways (KeyError, AttributeError, fpdf's errors);
    # any of them means this one XML cannot be drawn, which the user is told in plain words.
    except Exception as exc:
        logger.warning("PDF rendering failed", extra={"doc_type": doc_type, "error": repr(exc)})
        raise RenderFailed(
            f"The {label} could not be drawn from this document's XML; download the XML instead, "
            "or contact support with the document id."
        ) from exc
