"""A real PKCS#11 token for the tests: SoftHSM2, holding a test e-CNPJ key and certificate.

One session-wide SoftHSM serves every package (the agent's tests and the bridge's): its fixtures
are registered once, by tests/conftest.py, because python-pkcs11 initializes the module once per
process, with the configuration of that moment, so a second SoftHSM would never be seen.

The session's token directory lives in a temporary folder named by ``SOFTHSM2_CONF``. Tokens are
made with ``softhsm2-util`` (init, key import as PKCS#8 PEM) and their certificates written with
python-pkcs11 through a copy of the module used for setup only, finalized afterwards, so the
module the agent loads initializes after every token exists.

SoftHSM reads ``SOFTHSM2_CONF`` when a module initializes, and python-pkcs11 keeps one instance
per module path; so a test that needs a token to itself (pulled out, mechanisms restricted) gets
a copy of the module under another path: a separate instance, initialized with its own
configuration. Without SoftHSM these tests fail, saying what to install; they never skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pkcs11
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pkcs11 import Attribute, CertificateType, ObjectClass

from local.fixtures.certificates import IssuedCertificate, default_ca

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
USER_PIN = "4321"
SO_PIN = "87654321"
COMPANY_CNPJ = "11222333000181"
COMPANY_NAME = "EMPRESA A3 LTDA"
# SoftHSM disables the listed mechanisms when the list starts with "-"; its parser drops the first
# entry, so that one is repeated.
NO_HASH_AND_SIGN = (
    "-CKM_SHA1_RSA_PKCS,CKM_SHA1_RSA_PKCS,CKM_SHA256_RSA_PKCS,CKM_SHA384_RSA_PKCS,CKM_SHA512_RSA_PKCS"
)
RAW_RSA_ONLY = NO_HASH_AND_SIGN + ",CKM_RSA_PKCS"


@dataclass(frozen=True)
class SoftToken:
    """One SoftHSM token: its label, PINs, the e-CNPJ on it and the folder that is the token."""

    label: str
    issued: IssuedCertificate
    directory: Path
    pin: str = USER_PIN

    @property
    def certificate(self) -> x509.Certificate:
        return self.issued.certificate


class SoftHsm:
    """The session's SoftHSM: a token folder, its configuration files and copies of the module."""

    def __init__(self, root: Path) -> None:
        for tool in ("softhsm2-util",):
            if shutil.which(tool) is None:
                pytest.fail(f"{tool} is missing: install the Debian package softhsm2 (make deps does)")
        if not Path(SOFTHSM_MODULE).is_file():
            pytest.fail(f"{SOFTHSM_MODULE} is missing: install the Debian package softhsm2")
        self.root = root
        self.tokens_dir = root / "tokens"
        self.tokens_dir.mkdir()
        self.conf = self.configuration("ALL")
        self._copies = 0

    def configuration(self, mechanisms: str) -> Path:
        """A SoftHSM configuration over the session's tokens with ``slots.mechanisms`` set."""
        self._configurations = getattr(self, "_configurations", 0) + 1
        path = self.root / f"softhsm2-{self._configurations}.conf"
        path.write_text(
            f"directories.tokendir = {self.tokens_dir}\nobjectstore.backend = file\nlog.level = ERROR\n"
            f"slots.removable = true\nslots.mechanisms = {mechanisms}\n"
        )
        return path

    def module_copy(self) -> str:
        """A copy of the module under a new path: a separate, not yet initialized instance."""
        self._copies += 1
        path = self.root / f"libsofthsm2-{self._copies}.so"
        shutil.copy(SOFTHSM_MODULE, path)
        return str(path)

    def _util(self, *arguments: str) -> None:
        result = subprocess.run(
            ["softhsm2-util", *arguments],
            env={**os.environ, "SOFTHSM2_CONF": str(self.conf)},
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            pytest.fail(f"softhsm2-util {' '.join(arguments[:2])} failed: {result.stdout}{result.stderr}")

    def create_token(self, label: str, cnpj: str = COMPANY_CNPJ, name: str = COMPANY_NAME) -> SoftToken:
        """A token holding an e-CNPJ from the test CA: its key (imported), certificate and chain."""
        before = set(self.tokens_dir.iterdir())
        self._util("--init-token", "--free", "--label", label, "--pin", USER_PIN, "--so-pin", SO_PIN)
        (directory,) = set(self.tokens_dir.iterdir()) - before
        issued = default_ca().issue_ecnpj(cnpj, name)
        key_file = self.root / f"{label}.key.pem"
        key_file.write_bytes(issued.private_key_pem())  # PKCS#8, as softhsm2-util --import wants
        self._util(
            "--import", str(key_file), "--token", label, "--label", "ecnpj", "--id", "01", "--pin", USER_PIN
        )
        key_file.unlink()
        self._store_certificates(label, issued)
        return SoftToken(label, issued, directory)

    def _store_certificates(self, label: str, issued: IssuedCertificate) -> None:
        module = self.module_copy()
        library = pkcs11.lib(module)
        try:
            with library.get_token(token_label=label).open(user_pin=USER_PIN, rw=True) as session:
                for certificate, key_id in (
                    (issued.certificate, b"\x01"),
                    *((ca, b"") for ca in issued.chain),
                ):
                    session.create_object(
                        {
                            Attribute.CLASS: ObjectClass.CERTIFICATE,
                            Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                            Attribute.TOKEN: True,
                            Attribute.PRIVATE: False,
                            Attribute.LABEL: "ecnpj" if key_id else "ca",
                            Attribute.ID: key_id,
                            Attribute.SUBJECT: certificate.subject.public_bytes(),
                            Attribute.VALUE: certificate.public_bytes(serialization.Encoding.DER),
                        }
                    )
        finally:
            pkcs11.unload(module)  # finalizes: the next instance sees a consistent token


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    """SoftHSM over a fresh token folder, with ``SOFTHSM2_CONF`` pointing at it for the session."""
    hsm = SoftHsm(tmp_path_factory.mktemp("softhsm"))
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(hsm.conf)
    try:
        yield hsm
    finally:
        if previous is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = previous


@pytest.fixture(scope="session")
def token(softhsm: SoftHsm) -> SoftToken:
    """The session's token, labelled ``fiscalmix``, read through the installed module path."""
    return softhsm.create_token("fiscalmix")
