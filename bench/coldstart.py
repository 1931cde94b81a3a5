"""The API handler's import time against importing its dependencies alone.

A Lambda cold start pays for importing the handler module: its dependencies (Powertools'
event handler, pydantic, boto3, PynamoDB, lxml...) and FiscalMix's own code on top. The
baseline is the dependencies alone: every module outside FiscalMix that FiscalMix's modules
import directly, found in the handler's own ``-X importtime`` tree (so the list follows the
code), imported in a fresh interpreter in the order the handler first imports them. The
handler's figure is the cumulative time of ``import functions.api.handler``, its module-level
work included (building the resolver, including the routers, the OpenAPI set-up). The handler
pauses the garbage collector while it builds the resolver; the baseline imports with it paused
too, so the pause does not flatter the ratio.

Each measurement is a fresh process (``python -X importtime -c ...``); the two candidates run
interleaved, and each keeps its median. The budget is 1.3x. Both import from bytecode, as the
deployed layer does (infra/bundling.py compiles it): the runs write and read their ``.pyc`` in a
temporary ``PYTHONPYCACHEPREFIX``, whatever ``PYTHONDONTWRITEBYTECODE`` says, and one warm-up
run of each compiles them outside the measurement.

    .venv/bin/python bench/coldstart.py [--runs 9]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HANDLER = "functions.api.handler"
PROJECT = ("functions", "fiscal_core", "local", "infra")
BUDGET = 1.3


@dataclass(frozen=True)
class Line:
    """One line of ``-X importtime``: the module, its nesting level and cumulative microseconds."""

    name: str
    level: int
    cumulative_us: int


# Bytecode for every module, kept out of the work tree (see the module's docstring).
_BYTECODE_ENV = {
    **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    "PYTHONPYCACHEPREFIX": tempfile.mkdtemp(prefix="fiscalmix-coldstart-pyc-"),
}


def importtime(code: str) -> list[Line]:
    """The import tree of running ``code`` in a fresh interpreter, in the order Python prints it."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True, text=True, check=True, cwd=ROOT, env=_BYTECODE_ENV,
    )  # fmt: skip
    lines = []
    for raw in result.stderr.splitlines():
        if not raw.startswith("import time:") or "cumulative" in raw:
            continue
        _, cumulative, field = raw.split("|", 2)
        name = field[1:]
        lines.append(Line(name.strip(), (len(name) - len(name.lstrip())) // 2, int(cumulative)))
    return lines


def is_project(name: str) -> bool:
    return name.split(".", maxsplit=1)[0] in PROJECT


def dependencies(tree: list[Line], startup: set[str]) -> list[str]:
    """Modules outside FiscalMix that FiscalMix's modules import directly, first import first.

    Python prints a module after everything it imported, one level deeper: a line's parent is
    the next line one level up.
    """
    found: dict[str, int] = {}
    for index, line in enumerate(tree):
        if is_project(line.name) or line.name in startup or line.level == 0:
            continue
        parent = next(p for p in tree[index + 1 :] if p.level == line.level - 1)
        if is_project(parent.name):
            found.setdefault(line.name, index)
    return sorted(found, key=found.__getitem__)


def total(tree: list[Line], startup: set[str]) -> int:
    """Microseconds of everything the ``-c`` code imported (startup modules excluded)."""
    return sum(line.cumulative_us for line in tree if line.level == 0 and line.name not in startup)


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("--runs", type=int, default=9, help="fresh processes per candidate (default 9)")
    args = cli.parse_args()
    startup = {line.name for line in importtime("pass")}
    importtime(f"import {HANDLER}")  # compile the .pyc files once, outside the measurement
    modules = dependencies(importtime(f"import {HANDLER}"), startup)
    # The handler builds its resolver with the garbage collector paused (functions/api/handler.py),
    # which speeds its dependencies' imports too: the baseline gets the same pause, so the ratio
    # stays FiscalMix's own cost and not the pause's.
    baseline_code = "import gc; gc.disable(); " + "; ".join(f"import {m}" for m in modules if m != "gc")
    importtime(baseline_code)
    handler_us, deps_us = [], []
    for _ in range(args.runs):
        handler_us.append(total(importtime(f"import {HANDLER}"), startup))
        deps_us.append(total(importtime(baseline_code), startup))
    handler_ms = statistics.median(handler_us) / 1000
    deps_ms = statistics.median(deps_us) / 1000
    ratio = round(handler_ms / deps_ms, 3)
    print(f"{len(modules)} dependencies imported directly by FiscalMix's modules:")
    print("  " + ", ".join(modules))
    print(f"median of {args.runs} fresh processes each, interleaved:")
    for label, median, runs in (("import functions.api.handler", handler_ms, handler_us),
                                ("dependencies alone", deps_ms, deps_us)):  # fmt: skip
        print(f"  {label:<30} {median:8.1f} ms  (runs {min(runs) / 1000:.0f} to {max(runs) / 1000:.0f} ms)")
    verdict = "within" if ratio <= BUDGET else "OVER"
    print(f"  handler vs dependencies: {ratio}x (budget {BUDGET}x): {verdict}")
    print(json.dumps({
        "benchmark": "coldstart", "runs": args.runs, "python": platform.python_version(),
        "dependencies": modules,
        "median_ms": {"handler": round(handler_ms, 1), "dependencies": round(deps_ms, 1)},
        "ratios": {"handler vs dependencies": ratio},
    }))  # fmt: skip


if __name__ == "__main__":
    main()
