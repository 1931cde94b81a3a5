"""The CDK app: ``python -m infra.app`` (``make synth``) or ``cdk synth|diff|deploy``.

The context in cdk.json (feature flags, the default stage) is loaded here too, so a synth run
without the CDK CLI, or from a test, builds exactly what ``cdk deploy`` deploys.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import App

from infra.stack import FiscalMixStack
from infra.stage import Stage

CDK_JSON = Path(__file__).resolve().parents[1] / "cdk.json"


def cdk_json_context() -> dict[str, Any]:
    """The ``context`` of cdk.json."""
    context: dict[str, Any] = json.loads(CDK_JSON.read_text())["context"]
    return context


def build_app(context: Mapping[str, Any] | None = None, outdir: str | None = None) -> App:
    """An app with cdk.json's context, then ``context``; the CLI's own ``-c`` values win over both."""
    app = App(context={**cdk_json_context(), **(context or {})}, outdir=outdir)
    stage = Stage.from_context(app.node)
    FiscalMixStack(app, f"FiscalMix-{stage.name}", stage=stage)
    return app


def main() -> None:
    """Synthesize into ``$CDK_OUTDIR`` (set by the CLI) or ./cdk.out."""
    build_app(outdir=os.environ.get("CDK_OUTDIR", "cdk.out")).synth()


if __name__ == "__main__":
    main()
