"""DANFE and DACTE from generated procNFe and procCTe, through the hardened parser first."""

from __future__ import annotations

import re
import zlib

import pytest

from fiscal_core.api.pdf import RENDERERS, RenderFailed, render_pdf
from fiscal_core.errors import DocumentError
from fiscal_core.storage.records import DocType
from local.fixtures.documents import Company, proc_cte, proc_mdfe, proc_nfce, proc_nfe
from local.fixtures.identities import cnpj_for

ACME = Company(cnpj_for("acme"), name="ACME INDUSTRIA LTDA")


def pdf_text(pdf: bytes) -> bytes:
    """Every content stream, inflated: enough to find what the page prints."""
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.DOTALL)
    texts = []
    for stream in streams:
        try:
            texts.append(zlib.decompress(stream))
        except zlib.error:
            texts.append(stream)
    return b"\n".join(texts)


@pytest.mark.parametrize(
    ("doc_type", "build"),
    [(DocType.NFE, lambda: proc_nfe(ACME, number=4242)), (DocType.CTE, lambda: proc_cte(ACME, number=77))],
)
def test_danfe_and_dacte_are_drawn_from_generated_documents(doc_type, build) -> None:
    generated = build()
    pdf = render_pdf(doc_type, generated.xml)
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) >= 1
    assert b"ACME INDUSTRIA LTDA" in pdf_text(pdf)


@pytest.mark.parametrize(
    ("doc_type", "build"), [(DocType.NFCE, lambda: proc_nfce(ACME)), (DocType.MDFE, lambda: proc_mdfe(ACME))]
)
def test_the_other_layouts_render_too(doc_type, build) -> None:
    assert render_pdf(doc_type, build().xml).startswith(b"%PDF-")


def test_every_type_has_a_renderer() -> None:
    assert set(RENDERERS) == set(DocType)


def test_hostile_xml_never_reaches_the_renderer() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xxxxxxxx">]><nfeProc>&x;</nfeProc>'
    with pytest.raises(DocumentError, match="DOCTYPE"):
        render_pdf(DocType.NFE, bomb)


def test_a_layout_that_cannot_draw_the_xml_says_so() -> None:
    with pytest.raises(RenderFailed, match="The DACTE could not be drawn"):
        render_pdf(DocType.CTE, proc_nfe(ACME).xml)
