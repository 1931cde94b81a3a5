"""The official request schemas shipped with the layer, and the check every request passes.

A request that breaks its schema earns cStat 215 at best; for consNSU and consChNFe it also spends
one of the 20 queries SEFAZ allows an hour. So each request is validated here before it leaves,
against the vendored copies in ``wsdl/schemas`` (provenance in ``wsdl/README.md``). Each schema is
compiled once per process, on first use, under the process's schema lock (libxml2 is not
thread-safe there).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from enum import Enum
from importlib.resources import as_file, files
from typing import cast

from lxml import etree

from fiscal_core.sefaz.errors import RequestRejectedLocally
from fiscal_core.xmlsafe import SCHEMA_LOCK


class RequestSchema(Enum):
    """A request layout and its schema file under ``wsdl/schemas``."""

    NFE_DIST_DFE = "nfe_dist_dfe_v1_01/distDFeInt_v1.01.xsd"
    CTE_DIST_DFE = "cte_dist_dfe_v1_00/distDFeInt_v1.00.xsd"
    ENV_EVENTO_MDE = "nfe_evento_mde_v1_00/envConfRecebto_v1.00.xsd"


@functools.cache
def _compiled(schema: RequestSchema) -> etree.XMLSchema:
    resource = files("fiscal_core.sefaz") / "wsdl" / "schemas" / schema.value
    # The schemas include their siblings by relative path, so they are parsed from a real file.
    with as_file(resource) as path, SCHEMA_LOCK:
        parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
        return etree.XMLSchema(etree.parse(str(path), parser))


def validate_request(document: etree._Element, schema: RequestSchema) -> None:
    """Raise RequestRejectedLocally listing every violation unless ``document`` satisfies ``schema``."""
    compiled = _compiled(schema)
    with SCHEMA_LOCK:
        if compiled.validate(document):
            return
        entries = cast("Iterable[etree._LogEntry]", compiled.error_log)  # lxml-stubs omit __iter__
        problems = "; ".join(f"line {entry.line}: {entry.message}" for entry in entries)
    raise RequestRejectedLocally(f"{etree.QName(document).localname} breaks {schema.value}: {problems}")
