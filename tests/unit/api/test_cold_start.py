"""What importing the API handler does and does not do: the cold start every container pays.

Measured in bench/coldstart.py; these tests keep the reasons from regressing. Each probe imports
the handler in a fresh interpreter, as a new Lambda container does.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from typing import Any

import pytest
from pydantic import BaseModel

import fiscal_core
import functions
from fiscal_core.model import Model

# Modules a route loads when it first runs; importing the handler must not.
LOADED_BY_THEIR_ROUTES = (
    "fiscal_core.api.agents",
    "fiscal_core.api.certificates",
    "fiscal_core.api.documents",
    "fiscal_core.api.imports",
    "fiscal_core.api.manifestacao",
    "fiscal_core.api.sync",
    "fiscal_core.exports.api",
    "fiscal_core.sefaz",
    "fiscal_core.sync.objects",
)

_PROBE = """
import json, sys, tokenize
import functions.api.handler
from pydantic import BaseModel
from fiscal_core.documents import reader
from fiscal_core.model import Model

def subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)

print(json.dumps({
    "modules": sorted(sys.modules),
    "tokenizer_patterns": tokenize._compile.cache_info().currsize,
    "compiled_layouts": reader._compile.cache_info().currsize,
    "models": len(list(subclasses(Model))),
    "built_models": sorted(m.__qualname__ for m in subclasses(Model) if m.__pydantic_complete__),
    "eager_models": sorted(
        f"{m.__module__}.{m.__qualname__}" for m in subclasses(BaseModel)
        if m.__module__.startswith(("fiscal_core", "functions")) and not issubclass(m, Model)
    ),
}))
"""


@pytest.fixture(scope="module")
def cold_start() -> dict[str, Any]:
    result = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True)
    facts: dict[str, Any] = json.loads(result.stdout)
    return facts


def test_service_modules_wait_for_their_routes(cold_start: dict[str, Any]) -> None:
    loaded = set(cold_start["modules"])
    assert "functions.api.routes.documents" in loaded  # the probe did import every route
    assert sorted(m for m in LOADED_BY_THEIR_ROUTES if m in loaded) == []


def test_the_pdf_renderers_are_not_imported(cold_start: dict[str, Any]) -> None:
    # BrazilFiscalReport and fpdf2 take over a second; only a PDF request loads them.
    assert [m for m in cold_start["modules"] if m.startswith(("brazilfiscalreport", "fpdf"))] == []


def test_models_are_built_on_first_use(cold_start: dict[str, Any]) -> None:
    assert cold_start["models"] > 30
    assert cold_start["built_models"] == []
    # A model deriving pydantic's BaseModel directly would be built at import.
    assert cold_start["eager_models"] == []


def test_no_xpath_is_compiled(cold_start: dict[str, Any]) -> None:
    assert cold_start["compiled_layouts"] == 0


def test_no_tokenizer_pattern_is_compiled(cold_start: dict[str, Any]) -> None:
    # pydantic inspects a field's default factory; for a builtin (``default_factory=list``) that
    # parses its text signature with ``tokenize``, whose first use costs ~110 ms per cold start.
    assert cold_start["tokenizer_patterns"] == 0


def test_every_model_of_fiscal_core_and_the_functions_is_built_on_first_use() -> None:
    # The same holds for the workers' cold starts: no model of ours derives BaseModel directly.
    for package in (fiscal_core, functions):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            importlib.import_module(module.name)
    ours = [m for m in _subclasses(BaseModel) if m.__module__.startswith(("fiscal_core.", "functions."))]
    assert len(ours) > 60
    assert [f"{m.__module__}.{m.__qualname__}" for m in ours if not issubclass(m, Model)] == []


def _subclasses(cls: type[BaseModel]) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found
