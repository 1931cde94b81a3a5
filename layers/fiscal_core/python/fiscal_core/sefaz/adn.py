"""NFS-e distribution by the national ADN: ``GET /contribuintes/DFe/{NSU}?lote=true`` and its JSON.

Pure functions, no I/O. HTTP 200 and 404 both carry the JSON envelope (404 with E2220 is the empty
queue); 429 comes as an HTML page and means "slow down". Field names are read case-insensitively:
the Swagger writes PascalCase, and clients generated from it disagree. Facts (mostly third-party
field reports): docs/sefaz-protocol.md §3.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final
from urllib.parse import urlencode

from fiscal_core.doczip import DEFAULT_MAX_BYTES, decode_doczip
from fiscal_core.errors import DocumentError, InvalidValue
from fiscal_core.identifiers import normalize_cnpj
from fiscal_core.sefaz.cstat import ONE_HOUR, Category, Outcome, RetryClass, Rule
from fiscal_core.sefaz.errors import HttpStatusError, MalformedResponse
from fiscal_core.sefaz.transport import HttpRequest, HttpResponse

RATE_LIMIT_WAIT: Final = 60  # no documented quota; a minute unless Retry-After says otherwise
MAX_JSON_BYTES: Final = 64 * 1024 * 1024

# StatusProcessamento, or else the first error code, to what it means.
ADN_RULES: Final[Mapping[str, Rule]] = {
    "DOCUMENTOS_LOCALIZADOS": Rule(Category.SUCCESS, RetryClass.NONE, "documents found"),
    # No official penalty is known; FiscalMix waits an hour as it must for NF-e (self-imposed).
    "NENHUM_DOCUMENTO_LOCALIZADO": Rule(
        Category.EMPTY, RetryClass.WAIT, "no new documents", wait_seconds=ONE_HOUR
    ),
    "E2220": Rule(Category.EMPTY, RetryClass.WAIT, "no new documents", wait_seconds=ONE_HOUR),
}
# HTTP statuses that are answers rather than transport failures.
_HTTP_RULES: Final[Mapping[int, Rule]] = {
    429: Rule(
        Category.RATE_LIMITED, RetryClass.WAIT, "the ADN asks to slow down", wait_seconds=RATE_LIMIT_WAIT
    ),
    401: Rule(Category.CERTIFICATE, RetryClass.ASK_USER, "the ADN refused the company's certificate"),
    403: Rule(
        Category.PERMISSION,
        RetryClass.ASK_USER,
        "the certificate's company may not read this CNPJ's documents",
    ),
    400: Rule(Category.SCHEMA, RetryClass.BUG, "the ADN rejected the request; report it to support"),
}
_UNKNOWN: Final = Rule(
    Category.OTHER, RetryClass.BACKOFF, "unexpected answer from the ADN; retried, then reported"
)


def build_adn_request(base_url: str, nsu: int, cnpj: str | None = None) -> HttpRequest:
    """The request for up to 50 documents with NSU greater than ``nsu``.

    ``base_url`` is the environment's ``/contribuintes`` URL. Without ``cnpj`` the ADN uses the
    certificate's; with it, another establishment of the same CNPJ base.
    """
    if nsu < 0:
        raise InvalidValue("nsu", f"an NSU is not negative, got {nsu}")
    query = {"lote": "true"} | ({"cnpjConsulta": normalize_cnpj(cnpj)} if cnpj else {})
    return HttpRequest(
        method="GET", url=f"{base_url}/DFe/{nsu}?{urlencode(query)}", headers={"Accept": "application/json"}
    )


@dataclass(frozen=True)
class AdnDocument:
    """One item of ``LoteDFe``: its NSU, key, type and the decoded XML."""

    nsu: int
    chave: str | None
    tipo_documento: str
    tipo_evento: str | None
    generated_at: str | None
    xml: bytes


@dataclass(frozen=True)
class AdnResult:
    """A classified ADN answer; ``last_nsu`` is where the next call continues from."""

    requested_nsu: int
    tipo_ambiente: str | None
    documents: tuple[AdnDocument, ...]
    alerts: tuple[str, ...]
    outcome: Outcome

    @property
    def last_nsu(self) -> int:
        """The highest NSU received, or the one asked for when none came."""
        return max((doc.nsu for doc in self.documents), default=self.requested_nsu)


def parse_adn_response(
    response: HttpResponse, requested_nsu: int, url: str, *, max_document_bytes: int = DEFAULT_MAX_BYTES
) -> AdnResult:
    """Read an ADN answer; raises HttpStatusError for statuses that carry no answer (5xx retryable)."""
    if response.status == 429:  # an HTML page, not the JSON envelope
        wait = _retry_after(response.header("retry-after"))
        return _result(requested_nsu, {}, "HTTP 429", _HTTP_RULES[429], wait=wait)
    if response.status not in {200, 404, *_HTTP_RULES}:
        raise HttpStatusError(url, response.status, response.body[:200].decode("utf-8", "replace"))
    envelope = _json(response, url)
    code, rule = _classify(response.status, envelope)
    result = _result(requested_nsu, envelope, code, rule)
    if rule.category is not Category.SUCCESS:
        return result
    items = _field(envelope, "LoteDFe")
    items = [] if items is None else items
    if not isinstance(items, list):
        raise MalformedResponse(f"{url}: LoteDFe is not a list")
    return replace(result, documents=tuple(_document(item, max_document_bytes) for item in items))


def _classify(status: int, envelope: Mapping[str, Any]) -> tuple[str, Rule]:
    """StatusProcessamento if known, else the first known error code, else the HTTP status's rule."""
    codes = [str(_field(envelope, "StatusProcessamento") or "")] + [
        c for c, _ in _messages(envelope, "Erros")
    ]
    for code in codes:
        if code in ADN_RULES:
            return code, ADN_RULES[code]
    fallback = next((code for code in codes if code), f"HTTP {status}")
    return fallback, _HTTP_RULES.get(status, _UNKNOWN)


def _json(response: HttpResponse, url: str) -> dict[str, Any]:
    if len(response.body) > MAX_JSON_BYTES:
        raise MalformedResponse(f"{url}: the answer exceeds {MAX_JSON_BYTES} bytes; refused")
    try:
        envelope = json.loads(response.body)  # an empty body fails here too
    except (ValueError, UnicodeDecodeError):
        if response.status == 200:
            raise MalformedResponse(f"{url}: the answer is not JSON") from None
        raise HttpStatusError(url, response.status, "not the ADN's JSON (wrong path?)") from None
    if not isinstance(envelope, dict):
        raise MalformedResponse(f"{url}: the answer is JSON but not an object")
    return envelope


def _field(item: Mapping[str, Any], name: str) -> Any:
    """``item[name]`` whatever the case of the key (PascalCase per Swagger, camelCase in some clients)."""
    wanted = name.lower()
    return next((value for key, value in item.items() if key.lower() == wanted), None)


def _messages(envelope: Mapping[str, Any], name: str) -> list[tuple[str, str]]:
    entries = _field(envelope, name) or []
    if not isinstance(entries, list):
        return []
    found = []
    for entry in entries:
        if isinstance(entry, dict):
            text = " ".join(str(_field(entry, part) or "") for part in ("Descricao", "Complemento")).strip()
            found.append((str(_field(entry, "Codigo") or ""), text))
    return found


def _result(
    nsu: int, envelope: Mapping[str, Any], code: str, rule: Rule, *, wait: int | None = None
) -> AdnResult:
    messages = _messages(envelope, "Erros") or _messages(envelope, "Alertas")
    xmotivo = "; ".join(f"{c} {text}".strip() for c, text in messages) or code
    outcome = Outcome(
        code, xmotivo, rule.category, rule.retry, rule.wait_seconds if wait is None else wait, rule.hint
    )
    alerts = tuple(f"{c} {text}".strip() for c, text in _messages(envelope, "Alertas"))
    tipo = _field(envelope, "TipoAmbiente")
    return AdnResult(nsu, None if tipo is None else str(tipo), (), alerts, outcome)


def _retry_after(value: str | None) -> int:
    return int(value) if value and value.strip().isdigit() else RATE_LIMIT_WAIT


def _document(item: Any, max_bytes: int) -> AdnDocument:
    if not isinstance(item, dict):
        raise MalformedResponse("an item of LoteDFe is not an object")
    nsu = _field(item, "NSU")
    if isinstance(nsu, bool) or not isinstance(nsu, int | str) or not str(nsu).isdigit():
        raise MalformedResponse(f"an item of LoteDFe has no valid NSU ({nsu!r})")
    try:
        xml = decode_doczip(str(_field(item, "ArquivoXml") or ""), max_bytes=max_bytes)
    except DocumentError as exc:
        raise MalformedResponse(f"LoteDFe NSU {nsu}: {exc}") from None

    def text(name: str) -> str | None:
        value = _field(item, name)
        return None if value is None else str(value)

    return AdnDocument(
        nsu=int(nsu),
        chave=text("ChaveAcesso"),
        tipo_documento=text("TipoDocumento") or "",
        tipo_evento=text("TipoEvento"),
        generated_at=text("DataHoraGeracao"),
        xml=xml,
    )
