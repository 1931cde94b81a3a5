"""Synthesize the CDK app into a template dict, offline and without bundling assets.

Local mode runs the functions from the work tree, so asset bundling (pip for manylinux) is
skipped: the template is the same one ``cdk deploy`` would send, minus built zip files. The synth
runs in a child process, so the jsii Node.js runtime it needs does not live on (and hold memory)
in the long-running local system.

A synth takes 10 to 15 seconds, most of it importing aws-cdk-lib, so its result is kept in the
virtual environment, keyed by everything the template is made of: the sources of infra/ and
fiscal_core (the constructs read its table specs and settings), cdk.json and the aws-cdk-lib and
cdk-nag versions. A second ``make run`` with the same code starts in seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parent.parent
# What a template is made of; a change to any of these synthesizes anew.
_SOURCES: Final = (ROOT / "infra", ROOT / "layers" / "fiscal_core" / "python" / "fiscal_core")
_CACHE: Final = Path(sys.prefix) / "fiscalmix-synth-cache"

_QUIET_JSII = {
    # jsii warns on every start that Node 20 is past its end of life; the synth still works.
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
}


class SynthError(RuntimeError):
    """The CDK app failed to synthesize; the message carries its output."""


def synthesize_template(stage: str) -> dict[str, Any]:
    """The CloudFormation template of the ``stage`` stack, as a dict (from the cache when current)."""
    cached = _CACHE / f"{stage}-{_inputs_digest()}.json"
    try:
        kept: dict[str, Any] = json.loads(cached.read_text())
    except (OSError, ValueError):
        pass
    else:
        return kept
    template = _synthesize(stage)
    try:
        _CACHE.mkdir(exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(template))
        partial.replace(cached)  # atomic: a concurrent reader sees the whole file or none
    except OSError:
        pass  # a read-only environment synthesizes every time
    return template


def _inputs_digest() -> str:
    """A hash of every input of the synth."""
    digest = hashlib.sha256()
    for package in ("aws-cdk-lib", "cdk-nag", "constructs"):
        digest.update(f"{package}=={version(package)}\n".encode())
    files = [
        ROOT / "cdk.json",
        ROOT / "pyproject.toml",
        *(f for source in _SOURCES for f in sorted(source.rglob("*.py"))),
    ]
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:32]


def _synthesize(stage: str) -> dict[str, Any]:
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
