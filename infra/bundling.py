"""Lambda assets built on this machine, without Docker.

CDK's Python constructs bundle inside a Docker image. FiscalMix instead copies its sources into
the asset and lets pip fetch the wheels built for Lambda's platform (``--platform ...
--only-binary=:all:``), the cross-platform install that AWS documents. The layer's runtime
requirements are ``[project].dependencies`` of pyproject.toml, read here rather than repeated.

Lambda's file system is read-only, so a module without bytecode is compiled again on every cold
start (about 170 ms for the API's own modules). The asset is therefore compiled by the runtime's
own Python version (``python3.12`` on PATH), with hash-checked-free ``unchecked-hash`` pycs that
do not depend on the files' times in the zip. Without that interpreter the asset still works, and
a warning says what it costs.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tomllib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

REPO_ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = REPO_ROOT / "pyproject.toml"
LAYER_PACKAGE = REPO_ROOT / "layers" / "fiscal_core" / "python" / "fiscal_core"
FUNCTIONS_DIR = REPO_ROOT / "functions"

_IGNORED = ("__pycache__", "*.pyc", "*.egg-info", ".mypy_cache", ".pytest_cache")


def _ignored(relative: Path) -> bool:
    return any(fnmatch(part, pattern) for part in relative.parts for pattern in _IGNORED)


@dataclass(frozen=True, slots=True)
class LambdaPlatform:
    """The runtime and CPU every function and the layer are built for, and pip's matching tags."""

    runtime: lambda_.Runtime
    python_version: str
    architecture: lambda_.Architecture
    # Lambda's Python 3.12 runs on Amazon Linux 2023 (glibc 2.34): manylinux2014 is what most
    # projects publish, manylinux_2_34 admits wheels that need a newer glibc.
    pip_platforms: tuple[str, ...]


# Graviton: cheaper per GB-second, and every runtime dependency ships aarch64 wheels.
PLATFORM = LambdaPlatform(
    runtime=lambda_.Runtime.PYTHON_3_12,
    python_version="3.12",
    architecture=lambda_.Architecture.ARM_64,
    pip_platforms=("manylinux2014_aarch64", "manylinux_2_34_aarch64"),
)


def runtime_requirements(pyproject: Path = PYPROJECT) -> tuple[str, ...]:
    """The layer's requirements: ``[project].dependencies`` of pyproject.toml, as written."""
    with pyproject.open("rb") as file:
        return tuple(tomllib.load(file)["project"]["dependencies"])


@jsii.implements(ILocalBundling)
class LocalBundler:
    """Copies a source tree into the asset and pip-installs requirements for Lambda next to it.

    ``destination`` and ``site_packages`` are paths inside the asset: ``python/fiscal_core`` and
    ``python`` for the layer, ``functions/<name>`` and nothing for a function.
    """

    def __init__(
        self,
        *,
        source: Path,
        destination: str,
        requirements: Sequence[str] = (),
        site_packages: str = "",
        platform: LambdaPlatform = PLATFORM,
        python: str = sys.executable,
        compiler: str | None = None,
    ) -> None:
        self.compiler = compiler or shutil.which(f"python{platform.python_version}")
        self.source = source
        self.destination = destination
        self.requirements = tuple(requirements)
        self.site_packages = site_packages
        self.platform = platform
        self.python = python

    def pip_command(self, target: Path) -> list[str]:
        """The pip invocation that installs the requirements' Lambda wheels into ``target``."""
        platforms = [arg for tag in self.platform.pip_platforms for arg in ("--platform", tag)]
        return [
            self.python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            # Bytecode compiled by this interpreter would not match the runtime's Python.
            "--no-compile",
            "--target",
            str(target),
            "--implementation",
            "cp",
            "--python-version",
            self.platform.python_version,
            "--only-binary=:all:",
            *platforms,
            *self.requirements,
        ]

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_options: Any) -> bool:
        """Build the asset in ``output_dir``; returning True tells CDK not to fall back to Docker."""
        output = Path(output_dir)
        shutil.copytree(
            self.source,
            output / self.destination,
            ignore=shutil.ignore_patterns(*_IGNORED),
            dirs_exist_ok=True,
        )
        if self.requirements:
            # The command is built from pyproject.toml and constants, never from user input.
            subprocess.run(self.pip_command(output / self.site_packages), check=True)  # noqa: S603
        command = self.compile_command(output)
        if command is None:
            warnings.warn(
                f"python{self.platform.python_version} is not on PATH: the asset ships without bytecode, "
                "so each cold start compiles its modules (install that Python to build the assets)",
                stacklevel=2,
            )
        else:
            subprocess.run(command, check=True)  # noqa: S603 - the runtime's interpreter, our own paths
        return True

    def compile_command(self, output: Path) -> list[str] | None:
        """The runtime Python's compileall over the whole asset, or None without that Python."""
        if self.compiler is None:
            return None
        return [self.compiler, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
                str(output)]  # fmt: skip

    def fingerprint(self) -> str:
        """A hash of everything the asset is built from: sources, requirements and platform.

        CDK reuses a bundled asset whose hash it has seen; hashing only the sources would keep
        serving a layer built before a dependency changed in pyproject.toml.
        """
        digest = hashlib.sha256()
        for path in sorted(self.source.rglob("*")):
            relative = path.relative_to(self.source)
            if path.is_file() and not _ignored(relative):
                digest.update(str(relative).encode())
                digest.update(path.read_bytes())
        for part in (*self.requirements, *self.platform.pip_platforms, self.platform.python_version):
            digest.update(part.encode())
        return digest.hexdigest()


def _asset(bundler: LocalBundler) -> lambda_.Code:
    return lambda_.Code.from_asset(
        str(bundler.source),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=bundler.fingerprint(),
        # The image is never pulled: the local bundler always succeeds or raises.
        bundling=BundlingOptions(image=DockerImage.from_registry("unused"), local=bundler),
    )


def layer_code() -> lambda_.Code:
    """The fiscal_core layer: the package under ``python/`` and its runtime wheels beside it."""
    return _asset(
        LocalBundler(
            source=LAYER_PACKAGE,
            destination="python/fiscal_core",
            requirements=runtime_requirements(),
            site_packages="python",
        )
    )


def function_code(name: str) -> lambda_.Code:
    """A function's code at ``functions/<name>/`` inside the asset.

    Keeping the repository path means the handler is ``functions.<name>.handler.lambda_handler``
    both in Lambda and in the local gateways, which import it from the repository.
    """
    return _asset(LocalBundler(source=FUNCTIONS_DIR / name, destination=f"functions/{name}"))
