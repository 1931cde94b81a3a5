"""What a function that calls SEFAZ needs in its environment: which SEFAZ, and whom to trust.

Production calls SEFAZ's production endpoints; every other stage calls homologação, so a test
stage never sends an event about a real note. SEFAZ's and the ADN's servers present ICP-Brasil
chains, which no public trust store holds, and ``fiscal_core.sync.runtime.tls_settings`` has no
implicit default: the functions read the roots from ``FISCALMIX_SEFAZ_CA_FILE``, a PEM bundle
that travels in the layer at :data:`CA_BUNDLE`. The repository does not ship that bundle (it is
downloaded from ITI and checked by whoever deploys, see docs/infrastructure.md); while it is
missing, a function that needs it answers 503 and logs the path it looked for.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Final

from fiscal_core.settings import ENV_SEFAZ_CA_FILE, ENV_SEFAZ_ENVIRONMENT
from infra.stage import Stage

# Inside the fiscal_core package: the layer copies the package whole to /opt/python/fiscal_core.
CA_BUNDLE: Final = PurePosixPath("sefaz/trust/icp-brasil.pem")
LAYER_PACKAGE_PATH: Final = PurePosixPath("/opt/python/fiscal_core")


def sefaz_environment(stage: Stage) -> dict[str, str]:
    """The SEFAZ environment and CA bundle variables of a function of ``stage``."""
    return {
        ENV_SEFAZ_ENVIRONMENT: "production" if stage.production else "homologation",
        ENV_SEFAZ_CA_FILE: str(LAYER_PACKAGE_PATH / CA_BUNDLE),
    }
