"""How fast FiscalMix reads procNFe metadata, against two baselines measured in the same run.

- extract: ``fiscal_core.documents.extract_metadata`` (hardened parse + every metadata field);
- bare_parse: ``lxml.etree.fromstring`` of the same bytes, with lxml's default parser: the floor;
- nfelib: nfelib's xsdata bindings parsing the whole document into objects (one reused
  ``XmlParser``, the class given explicitly: the fastest way to use them).

The corpus is every procNFe (root ``nfeProc``) among the sample XMLs of the installed nfelib.
Candidates run in interleaved rounds so that machine noise hits all of them alike; each keeps its
best round. The last line of output is one JSON object with the figures and their ratios.

    .venv/bin/python bench/parse.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import platform
import time
from collections.abc import Callable
from typing import Any

from lxml import etree
from nfelib.nfe.bindings.v4_0.proc_nfe_v4_00 import NfeProc
from xsdata.formats.dataclass.parsers import XmlParser

from fiscal_core.documents import extract_metadata

PROC_NFE = "{http://www.portalfiscal.inf.br/nfe}nfeProc"
ROUNDS = 10


def proc_nfe_samples() -> list[bytes]:
    """The bytes of every procNFe sample shipped in the nfelib wheel."""
    samples = importlib.resources.files("nfelib") / "nfe" / "samples"
    found: list[bytes] = []
    pending = [samples]
    while pending:
        for entry in pending.pop().iterdir():
            if entry.is_dir():
                pending.append(entry)
            elif entry.name.endswith(".xml"):
                data = entry.read_bytes()
                if etree.fromstring(data).tag == PROC_NFE:
                    found.append(data)
    return found


def docs_per_second(read: Callable[[bytes], Any], corpus: list[bytes], seconds: float) -> float:
    """Read the corpus over and over for about ``seconds``; return documents per second."""
    done = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for data in corpus:
            read(data)
        done += len(corpus)
    return done / elapsed


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("--seconds", type=float, default=3.0, help="time per candidate (default 3)")
    args = cli.parse_args()

    corpus = proc_nfe_samples()
    failed = [result.error for result in map(extract_metadata, corpus) if result.metadata is None]
    if failed:
        raise SystemExit(f"extract_metadata failed on the corpus: {failed}")
    nfelib_parser = XmlParser()
    candidates: dict[str, Callable[[bytes], Any]] = {
        "extract": extract_metadata,
        "bare_parse": etree.fromstring,
        "nfelib": lambda data: nfelib_parser.from_bytes(data, NfeProc),
    }
    best = dict.fromkeys(candidates, 0.0)
    for _ in range(ROUNDS):
        for name, read in candidates.items():
            best[name] = max(best[name], docs_per_second(read, corpus, args.seconds / ROUNDS))

    ratios = {
        "extract vs bare_parse": round(best["extract"] / best["bare_parse"], 3),
        "extract vs nfelib": round(best["extract"] / best["nfelib"], 1),
    }
    average_kb = sum(map(len, corpus)) / len(corpus) / 1024
    print(f"corpus: {len(corpus)} procNFe samples from nfelib, {average_kb:.1f} KiB on average")
    for name, rate in best.items():
        print(f"{name:>12}: {rate:10,.0f} docs/s")
    for name, ratio in ratios.items():
        print(f"{name:>22}: {ratio}x")
    figures = {
        "benchmark": "parse",
        "documents": len(corpus),
        "python": platform.python_version(),
        "lxml": etree.__version__,
        "docs_per_s": {name: round(rate) for name, rate in best.items()},
        "ratios": ratios,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
