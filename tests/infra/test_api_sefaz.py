"""The API function can send a manifestação when deployed: it names the SEFAZ and the CA bundle."""

from __future__ import annotations

from typing import Any

import pytest

from fiscal_core.settings import ENV_SEFAZ_CA_FILE, ENV_SEFAZ_ENVIRONMENT, Settings
from infra.bundling import LAYER_PACKAGE
from infra.constructs.sefaz import CA_BUNDLE, LAYER_PACKAGE_PATH
from tests.infra.conftest import synth

pytestmark = pytest.mark.slow
API_HANDLER = "functions.api.handler.lambda_handler"


def _api_environment(stage: str) -> dict[str, Any]:
    _, template = synth(stage)
    (function,) = [
        f["Properties"]
        for f in template.find_resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == API_HANDLER
    ]
    variables: dict[str, Any] = function["Environment"]["Variables"]
    return variables


@pytest.mark.parametrize(("stage", "sefaz"), [("dev", "homologation"), ("prod", "production")])
def test_the_api_calls_homologation_except_in_production_and_trusts_the_layers_bundle(
    stage: str, sefaz: str
) -> None:
    variables = _api_environment(stage)
    assert variables[ENV_SEFAZ_ENVIRONMENT] == sefaz
    assert variables[ENV_SEFAZ_CA_FILE] == "/opt/python/fiscal_core/sefaz/trust/icp-brasil.pem"
    # The path is where the layer's copy of the package puts the repository's file.
    assert str(LAYER_PACKAGE_PATH / CA_BUNDLE) == variables[ENV_SEFAZ_CA_FILE]
    assert LAYER_PACKAGE.name == LAYER_PACKAGE_PATH.name == "fiscal_core"
    # What the function reads at cold start from these variables is valid settings.
    settings = Settings.model_validate(
        {**{k: v for k, v in variables.items() if isinstance(v, str)}, "FISCALMIX_TABLE_PREFIX": "x",
         "FISCALMIX_DOCUMENTS_BUCKET": "bucket", "FISCALMIX_EXPORTS_BUCKET": "bucket",
         "FISCALMIX_KMS_KEY_ID": "alias/x", "AWS_REGION": "sa-east-1"}
    )  # fmt: skip
    assert (settings.sefaz_environment, settings.sefaz_ca_file) == (sefaz, variables[ENV_SEFAZ_CA_FILE])
