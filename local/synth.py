"""Synthesize the CDK app into a template dict, offline and without bundling assets.

Local mode runs the functions from the work tree, so asset bundling (pip for manylinux) is
skipped: the template is the same one ``cdk deploy`` would send, minus built zip files. The synth
runs in a child process, so the jsii Node.js runtime it needs does not live on (and hold memory)
in the long-running local system.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from typing import Any

_QUIET_JSII = {
    # jsii warns on every start that Node 20 is past its end of life; the synth still works.
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
}


class SynthError(RuntimeError):
    """The CDK app failed to synthesize; the message carries its output."""


def synthesize_template(stage: str) -> dict[str, Any]:
    """The CloudFormation template of the ``stage`` stack, as a dict."""
    result = subprocess.run(  # noqa: S603 (our own module, with the running interpreter)
        [sys.executable, "-m", "local.synth", stage],
        capture_output=True,
        text=True,
        env={**os.environ, **_QUIET_JSII},
        check=False,
    )
    if result.returncode != 0:
        raise SynthError(f"cdk synth of stage {stage!r} failed:\n{result.stderr[-4000:]}")
    template: dict[str, Any] = json.loads(result.stdout)
    return template


def _synthesize_in_process(stage: str) -> dict[str, Any]:
    from infra.app import build_app  # CDK takes seconds to import: only in the child process

    with tempfile.TemporaryDirectory(prefix="fiscalmix-synth-") as outdir:
        app = build_app({"stage": stage, "aws:cdk:bundling-stacks": []}, outdir=outdir)
        (stack,) = app.synth().stacks
        template: dict[str, Any] = stack.template
        return template


if __name__ == "__main__":
    json.dump(_synthesize_in_process(sys.argv[1]), sys.stdout)
