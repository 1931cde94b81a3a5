"""What a function that calls SEFAZ needs in its environment: which SEFAZ, and whom to trust.

Production calls SEFAZ's production endpoints; every other stage calls homologação, so a test
stage never sends an event about a real note. SEFAZ's and the ADN's servers present ICP-Brasil
chains, which no public trust store holds, and ``fiscal_core.sync.runtime.tls_settings`` has no
implicit default: the functions read the roots from ``FISCALMIX_SEFAZ_CA_FILE``, a PEM bundle
that travels in the layer at :data:`CA_BUNDLE`. The repository does not ship that bundle (it is
downloaded from ITI and checked by whoever deploys); synthesis warns while it is missing, and
the functions then answer 503 naming the path.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Final

from aws_cdk import Annotations
from constructs import Construct

from fiscal_core.settings import ENV_SEFAZ_CA_FILE, ENV_SEFAZ_ENVIRONMENT
from infra.bundling import LAYER_PACKAGE
from infra.stage import Stage

# Inside the fiscal_core package: the layer copies the package whole to /opt/python/fiscal_core.
CA_BUNDLE: Final = PurePosixPath("sefaz/trust/icp-brasil.pem")
LAYER_PACKAGE_PATH: Final = PurePosixPath("/opt/python/fiscal_core")
MISSING_BUNDLE_WARNING: Final = "fiscalmix:sefaz-ca-bundle-missing"


def sefaz_environment(scope: Construct, stage: Stage) -> dict[str, str]:
    """The SEFAZ environment and CA bundle variables of a function under ``scope``."""
    if not (LAYER_PACKAGE / CA_BUNDLE).is_file():
        Annotations.of(scope).add_warning_v2(
            MISSING_BUNDLE_WARNING,
            f"No ICP-Brasil CA bundle at layers/fiscal_core/python/fiscal_core/{CA_BUNDLE}: until "
            "one is there (the ITI roots, PEM), calls to SEFAZ from this function answer 503.",
        )
    return {
        ENV_SEFAZ_ENVIRONMENT: "production" if stage.production else "homologation",
        ENV_SEFAZ_CA_FILE: str(LAYER_PACKAGE_PATH / CA_BUNDLE),
    }
