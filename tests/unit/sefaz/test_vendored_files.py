"""The WSDLs and schemas shipped in the layer: provenance, and nothing loaded from nfelib at run time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fiscal_core.sefaz.schemas import RequestSchema
from fiscal_core.sefaz.wsdl import WSDL_DIR
from local.fixtures.xsd import schema_path

# Vendored file -> its original inside nfelib, byte for byte.
COPIES = {
    "NFeDistribuicaoDFe.wsdl": "nfe/wsdl/v4_0/nfedistribuicaodfe.wsdl",
    **{
        f"schemas/nfe_dist_dfe_v1_01/{name}": f"nfe_dist_dfe/schemas/v1_0/{name}"
        for name in ("distDFeInt_v1.01.xsd", "tiposDistDFe_v1.01.xsd")
    },
    **{
        f"schemas/cte_dist_dfe_v1_00/{name}": f"cte_dist_dfe/schemas/v1_0/{name}"
        for name in ("distDFeInt_v1.00.xsd", "tiposDistDFe_v1.00.xsd")
    },
    **{
        f"schemas/nfe_evento_mde_v1_00/{name}": f"nfe_evento_mde/schemas/v1_0/{name}"
        for name in (
            "envConfRecebto_v1.00.xsd",
            "leiauteConfRecebto_v1.00.xsd",
            "tiposBasico_v1.03.xsd",
            "xmldsig-core-schema_v1.01.xsd",
        )
    },
}
WRITTEN_HERE = {"NFeRecepcaoEvento4.wsdl", "CTeDistribuicaoDFe.wsdl", "README.md"}


@pytest.mark.parametrize(("vendored", "original"), COPIES.items())
def test_copies_are_identical_to_nfelib(vendored: str, original: str) -> None:
    assert (WSDL_DIR / vendored).read_bytes() == schema_path(original).read_bytes()


def test_nothing_else_is_vendored() -> None:
    present = {str(path.relative_to(WSDL_DIR)) for path in WSDL_DIR.rglob("*") if path.is_file()}
    assert present == set(COPIES) | WRITTEN_HERE
    assert {schema.value for schema in RequestSchema} <= {p.removeprefix("schemas/") for p in COPIES}


def test_the_an_event_wsdl_only_renames_the_svrs_operation() -> None:
    ours = (WSDL_DIR / "NFeRecepcaoEvento4.wsdl").read_text()
    svrs = schema_path("nfe/wsdl/v4_0/recepcaoevento4.wsdl").read_text()
    for name in ("nfeRecepcaoEventoNF", "nfeRecepcaoEventoNFResult"):
        assert name in ours and name not in svrs


def test_the_runtime_never_imports_nfelib(tmp_path: Path) -> None:
    """The layer has no nfelib: build and check every request in a process that cannot import it."""
    blocker = tmp_path / "nfelib"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('nfelib is a development dependency')\n")
    script = (
        "from fiscal_core.sefaz.distdfe import *\n"
        "from fiscal_core.sefaz.environments import TpAmb\n"
        "from fiscal_core.sefaz.wsdl import *\n"
        "for family, cuf in ((DistFamily.NFE, None), (DistFamily.CTE, '35')):\n"
        "    build_dist_dfe(family, TpAmb.PRODUCTION, '11222333000181', DistQuery.dist_nsu(0), cuf)\n"
        "for op in (NFE_DIST_DFE, CTE_DIST_DFE, NFE_RECEPCAO_EVENTO):\n"
        "    soap_contract(op, SoapVersion.SOAP12)\n"
        "from fiscal_core.sefaz.schemas import RequestSchema, _compiled\n"
        "for schema in RequestSchema:\n"
        "    _compiled(schema)\n"
        "import sys; assert 'nfelib' not in sys.modules\n"
    )
    layer = Path(__file__).resolve().parents[3] / "layers" / "fiscal_core" / "python"
    env = {"PYTHONPATH": f"{tmp_path}:{layer}", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
