"""Where the PKCS#11 modules (token drivers) of the tokens sold in Brazil install themselves.

A table, not code: one row per vendor and operating system, paths as their installers leave them
(demoiselle's keystore loader configuration, the vendors' manuals). Windows paths use
``{SystemRoot}`` and ``{ProgramFiles}``, filled from the environment. SoftHSM comes last: it is the
software token the tests use, and on a machine with a real token the real one is found first.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from fiscalmix_agent.errors import ModuleNotFound

LINUX: Final = "linux"
WINDOWS: Final = "win32"
MACOS: Final = "darwin"


@dataclass(frozen=True)
class KnownModule:
    """One vendor's module on one operating system, with every path its installers use."""

    vendor: str
    platform: str
    paths: tuple[str, ...]


KNOWN_MODULES: Final[tuple[KnownModule, ...]] = (
    # SafeNet eToken ("token azul"), SafeNet Authentication Client.
    KnownModule(
        "SafeNet eToken",
        LINUX,
        (
            "/usr/lib/libeTPkcs11.so",
            "/usr/lib64/libeTPkcs11.so",
            "/usr/local/lib/libeTPkcs11.so",
            "/usr/lib/libeToken.so",
            "/usr/lib/libeToken.so.4",
        ),
    ),
    KnownModule("SafeNet eToken", WINDOWS, (r"{SystemRoot}\System32\eTPKCS11.dll",)),
    KnownModule("SafeNet eToken", MACOS, ("/usr/local/lib/libeTPkcs11.dylib",)),
    # SafeSign / G&D StarSign (GD Burti, Perto).
    KnownModule(
        "SafeSign",
        LINUX,
        (
            "/usr/lib/libaetpkss.so",
            "/usr/lib/libaetpkss.so.3",
            "/usr/lib/libaetpkss.so.3.0",
            "/usr/lib64/libaetpkss.so",
        ),
    ),
    KnownModule("SafeSign", WINDOWS, (r"{SystemRoot}\System32\aetpkss1.dll",)),
    KnownModule("SafeSign", MACOS, ("/Applications/tokenadmin.app/Contents/Frameworks/libaetpkss.dylib",)),
    # Watchdata ("token branco").
    KnownModule(
        "Watchdata",
        LINUX,
        (
            "/usr/lib/watchdata/ICP/lib/libwdpkcs_icp.so",
            "/usr/lib/watchdata/lib/libwdpkcs.so",
            "/opt/watchdata/lib64/libwdpkcs.so",
        ),
    ),
    KnownModule(
        "Watchdata",
        WINDOWS,
        (
            r"{SystemRoot}\System32\WDPKCS.dll",
            r"{SystemRoot}\System32\Watchdata\Watchdata Brazil CSP v1.0\WDPKCS.dll",
        ),
    ),
    KnownModule("Gemalto / Gemplus", WINDOWS, (r"{SystemRoot}\System32\gclib.dll",)),
    KnownModule("Athena / Pronova", WINDOWS, (r"{SystemRoot}\System32\asepkcs.dll",)),
    # OpenSC: the generic driver for many smartcards.
    KnownModule(
        "OpenSC",
        LINUX,
        (
            "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
            "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
            "/usr/lib64/opensc-pkcs11.so",
            "/usr/lib/opensc-pkcs11.so",
        ),
    ),
    KnownModule("OpenSC", WINDOWS, (r"{ProgramFiles}\OpenSC Project\OpenSC\pkcs11\opensc-pkcs11.dll",)),
    KnownModule("OpenSC", MACOS, ("/Library/OpenSC/lib/opensc-pkcs11.so",)),
    # SoftHSM2: a software token, for tests and demonstrations.
    KnownModule(
        "SoftHSM",
        LINUX,
        (
            "/usr/lib/softhsm/libsofthsm2.so",
            "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
            "/usr/local/lib/softhsm/libsofthsm2.so",
        ),
    ),
    KnownModule("SoftHSM", WINDOWS, (r"C:\SoftHSM2\lib\softhsm2-x64.dll",)),
    KnownModule(
        "SoftHSM",
        MACOS,
        ("/opt/homebrew/lib/softhsm/libsofthsm2.so", "/usr/local/lib/softhsm/libsofthsm2.so"),
    ),
)

# Filled into Windows paths when the environment lacks them (a service's environment may).
_WINDOWS_DEFAULTS: Final = {"SystemRoot": r"C:\Windows", "ProgramFiles": r"C:\Program Files"}


@dataclass(frozen=True)
class FoundModule:
    """A module file present on this machine, and whose driver it is."""

    vendor: str
    path: str


def _expand(path: str, environ: Mapping[str, str]) -> str:
    values = {name: environ.get(name, default) for name, default in _WINDOWS_DEFAULTS.items()}
    return path.format_map(values)


def candidate_paths(
    platform: str = sys.platform, environ: Mapping[str, str] | None = None
) -> list[FoundModule]:
    """Every known module path for ``platform``, in the order discovery tries them."""
    env = os.environ if environ is None else environ
    key = LINUX if platform.startswith("linux") else platform
    return [
        FoundModule(module.vendor, _expand(path, env))
        for module in KNOWN_MODULES
        if module.platform == key
        for path in module.paths
    ]


def discover_modules(
    platform: str = sys.platform,
    environ: Mapping[str, str] | None = None,
    exists: Callable[[str], bool] = os.path.isfile,
) -> list[FoundModule]:
    """The known modules installed here, most specific first; ModuleNotFound when there is none."""
    candidates = candidate_paths(platform, environ)
    found = [candidate for candidate in candidates if exists(candidate.path)]
    if not found:
        raise ModuleNotFound(
            "No token driver (PKCS#11 module) was found on this computer. Install the driver of "
            "your token (SafeNet Authentication Client, SafeSign Token Admin, Watchdata ICP...) or "
            "give its path with --module. Looked at: " + ", ".join(c.path for c in candidates)
        )
    return found


def configured_module(path: str) -> FoundModule:
    """The module at ``path`` given by the user; ModuleNotFound when no such file exists."""
    if not Path(path).is_file():
        raise ModuleNotFound(
            f"The PKCS#11 module {path} does not exist. Check the path given with --module (or in "
            "the configuration), or leave it out to find the installed token driver automatically."
        )
    return FoundModule("configured", path)


def describe_candidates(modules: Sequence[FoundModule]) -> str:
    """``vendor (path)`` for each module, for messages."""
    return ", ".join(f"{module.vendor} ({module.path})" for module in modules)
