"""The company's A1 certificate, opened for a sync: decrypted in memory, never written anywhere.

The PFX and its password are stored as two KMS envelopes bound to the account, the company and the
certificate (:mod:`fiscal_core.crypto.envelope`); :func:`seal_a1` writes them, as the API does on
upload, and :class:`CredentialsProvider` opens them. A warm Lambda keeps an opened certificate
(and its TLS context) for a few minutes, keyed by certificate id and fingerprint, so a run of
many pages decrypts once; a replaced certificate has another id or fingerprint and is opened anew.

An A3 certificate has no key here: its credentials sign and talk to SEFAZ through the company's
FiscalMix agent (:mod:`fiscal_core.sync.agent_exchange`), so they are built per step, over that
step's :class:`~fiscal_core.sync.agent_exchange.AgentCallBook`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from fiscal_core.bridge.calls import certificate_der_key
from fiscal_core.certificates import CertificateError, load_pfx
from fiscal_core.crypto.envelope import EncryptionContext, EnvelopeCipher
from fiscal_core.errors import EncryptionError
from fiscal_core.sefaz.tls import ClientIdentity, TlsSettings
from fiscal_core.sefaz.transport import HttpsTransport, Timeouts, Transport
from fiscal_core.signing import Signer
from fiscal_core.storage.certificates import CertificateRecord, CertificateRepository
from fiscal_core.storage.companies import CompanyRecord
from fiscal_core.storage.errors import RecordNotFound
from fiscal_core.sync.agent_exchange import AgentCallBook, AgentSigner, AgentTarget, AgentTransport
from fiscal_core.sync.errors import CredentialProblem, RetryableSyncError, ThroughAgentOnly
from fiscal_core.sync.wording import company_name

PFX_PURPOSE = "certificate-pfx"
PASSWORD_PURPOSE = "certificate-password"  # noqa: S105 - an envelope context label, not a secret
_UPLOAD = (
    "Upload the company's e-CNPJ A1 certificate (.pfx), or pair a FiscalMix agent for its A3 token, "
    "in Settings → Certificates."
)
# Opens the book of the running step for an A3 certificate's calls (None: no step to replay).
AgentBooks = Callable[[AgentTarget], AgentCallBook]


@dataclass(frozen=True)
class Credentials:
    """An opened certificate: what signs with its key and the mutual-TLS transport that presents it."""

    certificate_id: str
    fingerprint: str
    signer: Signer
    transport: Transport
    # An A3 step signs at its pinned time, so that a replay signs the same bytes (None: the clock).
    signing_clock: Callable[[], datetime] | None = None


def seal_a1(
    cipher: EnvelopeCipher, record: CertificateRecord, pfx: bytes, password: str
) -> CertificateRecord:
    """``record`` with the PFX and its password sealed in their own envelopes, ready to store."""
    context = EncryptionContext(record.account_id, record.company_id, record.certificate_id, PFX_PURPOSE)
    secret = EncryptionContext(record.account_id, record.company_id, record.certificate_id, PASSWORD_PURPOSE)
    return replace(
        record, pfx=cipher.encrypt(pfx, context), password=cipher.encrypt(password.encode(), secret)
    )


class CredentialsProvider:
    """Opens a company's active A1 certificate; CredentialProblem says what the user must do."""

    def __init__(
        self,
        certificates: CertificateRepository,
        cipher: EnvelopeCipher,
        tls: TlsSettings,
        *,
        timeouts: Timeouts | None = None,
        clock: Callable[[], datetime],
        cache_ttl: timedelta = timedelta(minutes=5),
        blobs: Callable[[str], bytes | None] | None = None,
    ) -> None:
        self._certificates = certificates
        self._cipher = cipher
        self._tls = tls
        self._timeouts = timeouts or Timeouts()
        self._clock = clock
        self._cache_ttl = cache_ttl.total_seconds()
        self._cache: dict[tuple[str, str], tuple[float, Credentials]] = {}
        self._lock = threading.Lock()
        self._blobs = blobs

    def for_company(self, company: CompanyRecord, agent_books: AgentBooks | None = None) -> Credentials:
        """The credentials the sync of ``company`` uses now (``agent_books``: the step's, for A3)."""
        who = company_name(company.legal_name, company.cnpj)
        record = self._active(company, who)
        now = self._clock()
        if record.not_after <= now:
            raise CredentialProblem(
                f"The {record.kind} certificate of {who} expired on {record.not_after:%d/%m/%Y}, so "
                f"SEFAZ would refuse it. {_UPLOAD}"
            )
        if record.cnpj[:8] != company.cnpj[:8]:
            raise CredentialProblem(
                f"The certificate chosen for {who} belongs to CNPJ {record.cnpj}, another company; "
                f"SEFAZ only answers with a certificate of the same CNPJ base. {_UPLOAD}"
            )
        if record.kind == "A3":
            return self._through_agent(record, who, agent_books)
        key = (record.certificate_id, record.fingerprint)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached[0] > time.monotonic():
                return cached[1]
        credentials = self._open(record, who)
        with self._lock:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > time.monotonic()}
            self._cache[key] = (time.monotonic() + self._cache_ttl, credentials)
        return credentials

    def _active(self, company: CompanyRecord, who: str) -> CertificateRecord:
        if company.certificate_id:
            try:
                chosen = self._certificates.get(company.account_id, company.certificate_id)
            except RecordNotFound:
                raise CredentialProblem(
                    f"The certificate chosen for {who} no longer exists. {_UPLOAD}"
                ) from None
            if chosen.company_id == company.company_id and chosen.status == "ACTIVE":
                return chosen
        now = self._clock()
        usable = [
            c for c in self._certificates.for_company(company.account_id, company.company_id)
            if c.status == "ACTIVE" and c.not_before <= now
        ]  # fmt: skip
        if not usable:
            raise CredentialProblem(
                f"{who} has no active certificate for FiscalMix to query SEFAZ. {_UPLOAD}"
            )
        # The repository lists the one expiring last first; an A1 needs no agent, so it goes first.
        return next((c for c in usable if c.kind == "A1"), usable[0])

    def _through_agent(
        self, record: CertificateRecord, who: str, agent_books: AgentBooks | None
    ) -> Credentials:
        """An A3 certificate: its signatures and SEFAZ exchanges go through the company's agent."""
        if agent_books is None:
            raise ThroughAgentOnly(
                f"The A3 certificate of {who} is used through its FiscalMix agent, which only the "
                "sync workflow reaches; use an A1 certificate for this action."
            )
        certificate = self._a3_certificate(record, who)
        book = agent_books(
            AgentTarget(record.account_id, record.company_id, record.certificate_id, record.fingerprint, who)
        )
        return Credentials(
            record.certificate_id,
            record.fingerprint,
            AgentSigner(book, certificate),
            AgentTransport(book),
            signing_clock=book.clock,
        )

    def _a3_certificate(self, record: CertificateRecord, who: str) -> x509.Certificate:
        """The token's certificate as its agent reported it (its DER, kept when the agent said hello)."""
        key = record.blob_s3_key or certificate_der_key(
            record.account_id, record.company_id, record.certificate_id
        )
        der = self._blobs(key) if self._blobs else None
        if der is None:
            raise CredentialProblem(
                f"FiscalMix has not received the A3 certificate of {who} from its agent yet: start the "
                "FiscalMix agent on the computer where the token is plugged in."
            )
        try:
            certificate = x509.load_der_x509_certificate(der)
        except ValueError:
            raise CredentialProblem(
                f"The A3 certificate the agent of {who} reported cannot be read; restart the agent."
            ) from None
        if certificate.fingerprint(hashes.SHA256()).hex() != record.fingerprint:
            raise CredentialProblem(
                f"The A3 certificate stored for {who} is not the one registered; restart the agent."
            )
        return certificate

    def _open(self, record: CertificateRecord, who: str) -> Credentials:
        if record.pfx is None or record.password is None:
            raise CredentialProblem(
                f"The certificate {record.certificate_id} of {who} has no stored key FiscalMix can read"
                f" (an A3 certificate is used through the FiscalMix agent). {_UPLOAD}"
            )
        ids = (record.account_id, record.company_id, record.certificate_id)
        try:
            pfx = self._cipher.decrypt(record.pfx, EncryptionContext(*ids, PFX_PURPOSE))
            password = self._cipher.decrypt(record.password, EncryptionContext(*ids, PASSWORD_PURPOSE))
            a1 = load_pfx(pfx, password, source=f"A1 certificate of {who}")
        except CertificateError as exc:
            raise CredentialProblem(f"{exc} {_UPLOAD}") from exc
        except EncryptionError as exc:
            # KMS unreachable or an envelope damaged: retried, then the run fails with this text.
            raise RetryableSyncError(f"The stored certificate of {who} cannot be opened now: {exc}") from exc
        transport = HttpsTransport(ClientIdentity.from_a1(a1), self._tls, self._timeouts)
        return Credentials(record.certificate_id, record.fingerprint, a1.signer(), transport)
