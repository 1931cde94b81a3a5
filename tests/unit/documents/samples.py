"""The sample XMLs of the installed nfelib wheel, found where the package lives (never copied)."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

NFELIB = Path(str(importlib.resources.files("nfelib")))


def nfelib_samples() -> list[Path]:
    """Every ``samples/**/*.xml`` file nfelib ships, in a stable order."""
    return sorted(NFELIB.glob("*/samples/**/*.xml"))


def sample(relative: str) -> Path:
    """One sample by its path inside nfelib, e.g. ``nfe/samples/v4_0/procNFe.xml``."""
    path = NFELIB / relative
    assert path.is_file(), f"nfelib no longer ships {relative}"
    return path
