"""Accounts and what hangs off them: users, companies, permissions, certificates, connectors."""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, KeysOnlyProjection
from pynamodb.models import Model

from fiscal_core.storage.attributes import IntegerAttribute, UTCTimestampAttribute, json_map
from fiscal_core.storage.models.base import GlobalIndex, placeholder_table


class Account(Model):
    """A customer: an accounting firm or a company. Its id is the tenant boundary."""

    class Meta:
        table_name = placeholder_table("Accounts")

    account_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    kind = UnicodeAttribute()  # ACCOUNTING_FIRM | COMPANY
    document = UnicodeAttribute(null=True)  # CNPJ or CPF of the customer
    plan = UnicodeAttribute(null=True)
    status = UnicodeAttribute()  # ACTIVE | SUSPENDED
    # Every user must have TOTP MFA enabled to use the API (checked by the API, not the pool).
    require_mfa = BooleanAttribute(default=False)
    created_at = UTCTimestampAttribute()
    updated_at = UTCTimestampAttribute()


class UserByCognitoSub(GlobalIndex["User"]):
    """Token → user: the sub of a verified JWT is all a request knows before its account."""

    class Meta:
        index_name = "by_cognito_sub"
        projection = KeysOnlyProjection()

    cognito_sub = UnicodeAttribute(hash_key=True)


class User(Model):
    """A person who signs in; belongs to one account, with an account-level role."""

    class Meta:
        table_name = placeholder_table("Users")

    account_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute(range_key=True)
    cognito_sub = UnicodeAttribute(null=True)  # absent until an invited user first signs in
    email = UnicodeAttribute()
    name = UnicodeAttribute()
    account_role = UnicodeAttribute()  # OWNER | ADMIN | MEMBER
    status = UnicodeAttribute()  # INVITED | ACTIVE | DISABLED
    created_at = UTCTimestampAttribute()
    last_login_at = UTCTimestampAttribute(null=True)

    by_cognito_sub = UserByCognitoSub()


class CompanyByCnpj(GlobalIndex["Company"]):
    """Companies of an account by CNPJ: finds an existing registration before adding one."""

    class Meta:
        index_name = "by_cnpj"
        projection = KeysOnlyProjection()

    account_id = UnicodeAttribute(hash_key=True)
    cnpj = UnicodeAttribute(range_key=True)


class Company(Model):
    """An establishment (one CNPJ) whose documents an account collects."""

    class Meta:
        table_name = placeholder_table("Companies")

    account_id = UnicodeAttribute(hash_key=True)
    company_id = UnicodeAttribute(range_key=True)
    cnpj = UnicodeAttribute()
    legal_name = UnicodeAttribute()
    trade_name = UnicodeAttribute(null=True)
    uf = UnicodeAttribute()
    municipio = UnicodeAttribute(null=True)  # IBGE code, 7 digits
    ie = UnicodeAttribute(null=True)
    tags = ListAttribute(of=UnicodeAttribute, default=list)
    active = BooleanAttribute(default=True)
    auto_ciencia = BooleanAttribute(default=False)
    certificate_id = UnicodeAttribute(null=True)  # the certificate the sync uses
    created_at = UTCTimestampAttribute()
    updated_at = UTCTimestampAttribute()

    by_cnpj = CompanyByCnpj()


class PermissionByUser(GlobalIndex["CompanyUserPermission"]):
    """Companies a user may see, with the role: read on every request's authorization."""

    class Meta:
        index_name = "by_user"
        projection = AllProjection()

    user_key = UnicodeAttribute(hash_key=True)  # <account>#<user>
    company_id = UnicodeAttribute(range_key=True)


class CompanyUserPermission(Model):
    """A user's role on one company; the sort key ``<company>#<user>`` lists a company's users."""

    class Meta:
        table_name = placeholder_table("CompanyUserPermissions")

    account_id = UnicodeAttribute(hash_key=True)
    permission_key = UnicodeAttribute(range_key=True)  # <company>#<user>
    user_key = UnicodeAttribute()
    company_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    role = UnicodeAttribute()  # VIEWER | OPERATOR | ADMIN
    granted_by = UnicodeAttribute()
    granted_at = UTCTimestampAttribute()

    by_user = PermissionByUser()


class EnvelopeMap(MapAttribute[str, object]):
    """An envelope-encrypted blob (crypto.envelope): never the plaintext key."""

    def __init__(self, **attributes: Any) -> None:
        super().__init__(**attributes)  # type: ignore[no-untyped-call]

    version = IntegerAttribute()
    wrapped_key = BinaryAttribute(legacy_encoding=False)
    nonce = BinaryAttribute(legacy_encoding=False)
    ciphertext = BinaryAttribute(legacy_encoding=False)


class CertificateByCompany(GlobalIndex["Certificate"]):
    """Certificates of a company, latest expiry last: picks the one the sync should use."""

    class Meta:
        index_name = "by_company"
        projection = AllProjection()

    company_key = UnicodeAttribute(hash_key=True)  # <account>#<company>
    not_after = UTCTimestampAttribute(range_key=True)


class Certificate(Model):
    """An ICP-Brasil certificate: A1 held encrypted here, or A3 reached through an agent."""

    class Meta:
        table_name = placeholder_table("Certificates")

    account_id = UnicodeAttribute(hash_key=True)
    certificate_id = UnicodeAttribute(range_key=True)
    company_id = UnicodeAttribute()
    company_key = UnicodeAttribute()
    kind = UnicodeAttribute()  # A1 | A3
    subject = UnicodeAttribute()
    issuer = UnicodeAttribute()
    serial_number = UnicodeAttribute()
    cnpj = UnicodeAttribute()
    not_before = UTCTimestampAttribute()
    not_after = UTCTimestampAttribute()
    fingerprint = UnicodeAttribute()  # SHA-256 of the DER certificate, hex
    status = UnicodeAttribute()  # ACTIVE | REVOKED
    # A1 only: the PFX and its password, each in its own envelope (context names which is which).
    pfx_envelope = EnvelopeMap(null=True)
    password_envelope = EnvelopeMap(null=True)
    blob_s3_key = UnicodeAttribute(null=True)  # PFX envelope in S3 when too large for the item
    # A3 only: the agent whose token holds the key.
    agent_id = UnicodeAttribute(null=True)
    token_label = UnicodeAttribute(null=True)
    created_by = UnicodeAttribute()
    created_at = UTCTimestampAttribute()
    revoked_at = UTCTimestampAttribute(null=True)

    by_company = CertificateByCompany()


class ConnectorConfig(Model):
    """How a company talks to one source (SEFAZ NF-e/CT-e/MDF-e, ADN NFS-e)."""

    class Meta:
        table_name = placeholder_table("ConnectorConfigs")

    account_id = UnicodeAttribute(hash_key=True)
    config_key = UnicodeAttribute(range_key=True)  # <company>#<connector>
    company_id = UnicodeAttribute()
    connector = UnicodeAttribute()  # SEFAZ_NFE | SEFAZ_CTE | SEFAZ_MDFE | ADN_NFSE
    enabled = BooleanAttribute(default=True)
    environment = UnicodeAttribute()  # PRODUCTION | HOMOLOGATION
    certificate_id = UnicodeAttribute(null=True)
    interval_minutes = IntegerAttribute(default=60)
    settings = json_map()
    created_at = UTCTimestampAttribute()
    updated_at = UTCTimestampAttribute()
