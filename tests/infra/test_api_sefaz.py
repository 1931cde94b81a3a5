"""The API function can send a manifestação when deployed: it names the SEFAZ and the CA bundle."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Annotations, Match

from fiscal_core.settings import ENV_SEFAZ_CA_FILE, ENV_SEFAZ_ENVIRONMENT, Settings
from infra.bundling import LAYER_PACKAGE
from infra.constructs.sefaz import CA_BUNDLE, LAYER_PACKAGE_PATH, MISSING_BUNDLE_WARNING
from tests.infra.conftest import synth

pytestmark = pytest.mark.slow
API_HANDLER = "functions.api.handler.lambda_handler"


def _api_environment(stage: str) -> tuple[dict[str, Any], list[str]]:
    stack, template = synth(stage)
    (function,) = [
        f["Properties"]
        for f in template.find_resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == API_HANDLER
    ]
    found = Annotations.from_stack(stack).find_warning("*", Match.any_value())
    warnings = [str(entry.entry.data) for entry in found]
    variables: dict[str, Any] = function["Environment"]["Variables"]
    return variables, warnings


@pytest.mark.parametrize(("stage", "sefaz"), [("dev", "homologation"), ("prod", "production")])
def test_the_api_calls_homologation_except_in_production_and_trusts_the_layers_bundle(
    stage: str, sefaz: str
) -> None:
    variables, warnings = _api_environment(stage)
    assert variables[ENV_SEFAZ_ENVIRONMENT] == sefaz
    assert (
        variables[ENV_SEFAZ_CA_FILE]
        == f"{LAYER_PACKAGE_PATH}/{CA_BUNDLE}"
        == ("/opt/python/fiscal_core/sefaz/trust/icp-brasil.pem")
    )
    # What the function reads at cold start from these variables is valid settings.
    settings = Settings.model_validate(
        {**{k: v for k, v in variables.items() if isinstance(v, str)}, "FISCALMIX_TABLE_PREFIX": "x",
         "FISCALMIX_DOCUMENTS_BUCKET": "bucket", "FISCALMIX_EXPORTS_BUCKET": "bucket",
         "FISCALMIX_KMS_KEY_ID": "alias/x", "AWS_REGION": "sa-east-1"}
    )  # fmt: skip
    assert (settings.sefaz_environment, settings.sefaz_ca_file) == (sefaz, variables[ENV_SEFAZ_CA_FILE])
    # The bundle is not in the repository: synthesis says so, naming where it belongs.
    shipped = (LAYER_PACKAGE / CA_BUNDLE).is_file()
    named = [w for w in warnings if str(CA_BUNDLE) in w and MISSING_BUNDLE_WARNING in w]
    assert bool(named) is not shipped
