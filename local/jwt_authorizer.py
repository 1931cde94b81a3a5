"""The HTTP API JWT authorizer, reproduced locally against moto's Cognito.

It follows the evaluation order API Gateway documents
(https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html):
token from the identity source (bare or ``Bearer``-prefixed), RSA signature against the issuer's
JWKS, then ``kid``, ``iss``, ``aud`` (or ``client_id`` only when ``aud`` is absent), ``exp``,
``nbf``, ``iat`` and finally the route's authorization scopes. A refusal never reaches the handler.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt

JwksFetcher = Callable[[str], Mapping[str, Any]]

# API Gateway only accepts RSA-signed tokens ("Currently, only RSA-based algorithms are supported").
RSA_ALGORITHMS = ("RS256", "RS384", "RS512")
# Clock skew tolerated between the issuer and this machine when checking exp, nbf and iat.
CLOCK_SKEW_SECONDS = 5
JWKS_FETCH_TIMEOUT_SECONDS = 5
# moto serves a pool's JWKS only to requests that look SigV4-signed for cognito-idp: it routes on
# the service named in the credential scope, and never checks the signature.
MOTO_COGNITO_AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/cognito-idp/aws4_request, "
    "SignedHeaders=host, Signature=x"
)
_IDENTITY_SOURCE_PREFIXES = {"$request.header.": "headers", "$request.querystring.": "queryStringParameters"}


@dataclass(frozen=True)
class JwtAuthorizerConfig:
    """An HTTP API JWT authorizer: who issues tokens, for whom, and where its public keys live."""

    issuer: str
    audience: tuple[str, ...]
    jwks_url: str
    identity_source: str = "$request.header.Authorization"

    def __post_init__(self) -> None:
        if not self.audience:
            raise ValueError("a JWT authorizer needs at least one audience (an app client id)")
        if urlsplit(self.jwks_url).scheme not in ("http", "https"):
            raise ValueError(f"jwks_url must be an http(s) URL, got {self.jwks_url!r}")
        self.identity_location()  # fails early on a source a JWT authorizer cannot read

    def identity_location(self) -> tuple[str, str]:
        """Where the token is in a payload 2.0 event: the event field and the name inside it."""
        for prefix, field in _IDENTITY_SOURCE_PREFIXES.items():
            if self.identity_source.startswith(prefix):
                name = self.identity_source[len(prefix) :]
                # The event lowercases header names; query string names keep their case.
                return field, name.lower() if field == "headers" else name
        raise ValueError(
            f"identity_source {self.identity_source!r} is not $request.header.<name> "
            "or $request.querystring.<name>, the only forms a JWT authorizer accepts"
        )


class AuthorizationDenied(Exception):
    """A request the authorizer refuses, carrying the response API Gateway would send."""

    def __init__(self, status: int, message: str, www_authenticate: str) -> None:
        super().__init__(f"{status} {message}: {www_authenticate}")
        self.status = status
        self.message = message
        self.www_authenticate = www_authenticate


def fetch_jwks(url: str) -> Mapping[str, Any]:
    """GET a JWKS document, with the fake SigV4 header moto needs to serve it."""
    # The URL is a JwtAuthorizerConfig.jwks_url, whose scheme was checked to be http(s).
    request = urllib.request.Request(url, headers={"Authorization": MOTO_COGNITO_AUTHORIZATION})  # noqa: S310
    with urllib.request.urlopen(request, timeout=JWKS_FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310
        document: Mapping[str, Any] = json.load(response)
    return document


class JwtAuthorizer:
    """Verifies bearer tokens for the routes of one HTTP API, caching the issuer's keys."""

    def __init__(self, config: JwtAuthorizerConfig, fetcher: JwksFetcher = fetch_jwks) -> None:
        self.config = config
        self._fetcher = fetcher
        self._keys: dict[str, jwt.PyJWK] = {}
        self._lock = threading.Lock()

    def authorize(self, event: Mapping[str, Any], route_scopes: Sequence[str]) -> dict[str, Any]:
        """Check the token the identity source names in a payload 2.0 ``event``.

        Returns the ``requestContext.authorizer`` value for the event, or raises
        :class:`AuthorizationDenied` with the 401 or 403 API Gateway would answer.
        """
        denied = _Denials(route_scopes)
        token = self._identity(event)
        if not token:
            raise denied.missing_token()
        claims = self._verified_claims(token, denied)
        self._check_claims(claims, denied)
        token_scopes = _token_scopes(claims)
        if route_scopes and not set(route_scopes) & set(token_scopes or ()):
            raise denied.insufficient_scope()
        return {
            "jwt": {
                "claims": {name: _render_claim(value) for name, value in claims.items() if value is not None},
                # API Gateway fills scopes only for routes that require some; otherwise it is null.
                "scopes": token_scopes if route_scopes else None,
            }
        }

    def _identity(self, event: Mapping[str, Any]) -> str:
        field, name = self.config.identity_location()
        raw = str((event.get(field) or {}).get(name, "")).strip()
        scheme, _, credentials = raw.partition(" ")
        return credentials.strip() if scheme.lower() == "bearer" else raw

    def _verified_claims(self, token: str, denied: _Denials) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError as exc:
            raise denied.invalid_token("the token could not be decoded") from exc
        algorithm = header.get("alg")
        if algorithm not in RSA_ALGORITHMS:
            raise denied.invalid_token(f"signing method {algorithm} is invalid")
        key = self._signing_key(header.get("kid"))
        if key is None:
            raise denied.invalid_token("the token's kid does not match any key of the issuer")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=[algorithm],
                # Only the signature here: claims are checked below, in API Gateway's order.
                options={
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                },
            )
        except jwt.InvalidSignatureError as exc:
            raise denied.invalid_token("the token signature is invalid") from exc
        # Also a key of the wrong type for the token's algorithm (InvalidKeyError).
        except jwt.PyJWTError as exc:
            raise denied.invalid_token("the token could not be verified") from exc
        return claims

    def _signing_key(self, kid: object) -> jwt.PyJWK | None:
        if not isinstance(kid, str):
            return None
        with self._lock:
            if kid not in self._keys:
                # An unknown kid may mean the issuer rotated its keys since the last fetch.
                document = self._fetcher(self.config.jwks_url)
                self._keys = {
                    key.key_id: key
                    for key in jwt.PyJWKSet.from_dict(dict(document)).keys
                    if key.key_id is not None
                }
            return self._keys.get(kid)

    def _check_claims(self, claims: Mapping[str, Any], denied: _Denials) -> None:
        if claims.get("iss") != self.config.issuer:
            raise denied.invalid_token("the token does not have a valid issuer")
        if "aud" in claims:
            audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        else:
            audiences = [claims.get("client_id")]
        if not set(self.config.audience) & {str(audience) for audience in audiences}:
            # The one description API Gateway documents word for word.
            raise denied.invalid_token("the token does not have a valid audience")
        now = time.time()
        exp, nbf, iat = (_numeric_date(claims, name, denied) for name in ("exp", "nbf", "iat"))
        if exp is None:
            raise denied.invalid_token("the token has no exp claim")
        if exp <= now - CLOCK_SKEW_SECONDS:
            raise denied.invalid_token("the token has expired")
        if nbf is not None and nbf > now + CLOCK_SKEW_SECONDS:
            raise denied.invalid_token("the token is not valid yet")
        if iat is not None and iat > now + CLOCK_SKEW_SECONDS:
            raise denied.invalid_token("the token was issued in the future")


class _Denials:
    """Builds refusals shaped like API Gateway's: a JSON message and a ``www-authenticate`` header."""

    def __init__(self, route_scopes: Sequence[str]) -> None:
        self._scope = " ".join(route_scopes)

    def missing_token(self) -> AuthorizationDenied:
        # RFC 6750 §3.1: a request without credentials gets a challenge but no error code.
        return AuthorizationDenied(401, "Unauthorized", f'Bearer scope="{self._scope}"')

    def invalid_token(self, description: str) -> AuthorizationDenied:
        return AuthorizationDenied(
            401,
            "Unauthorized",
            f'Bearer scope="{self._scope}" error="invalid_token" error_description="{description}"',
        )

    def insufficient_scope(self) -> AuthorizationDenied:
        return AuthorizationDenied(
            403,
            "Forbidden",
            f'Bearer scope="{self._scope}" error="insufficient_scope" '
            'error_description="the token does not have any of the scopes the route requires"',
        )


def _numeric_date(claims: Mapping[str, Any], name: str, denied: _Denials) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    # bool is an int subclass, and true is no date.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise denied.invalid_token(f"the token's {name} claim is not a number")
    return float(value)


def _token_scopes(claims: Mapping[str, Any]) -> list[str] | None:
    """The scopes a token grants: ``scp`` first, then ``scope``, as a list or space-separated."""
    for name in ("scp", "scope"):
        value = claims.get(name)
        if isinstance(value, str):
            return value.split()
        if isinstance(value, list):
            return [str(scope) for scope in value]
    return None


def _render_claim(value: Any) -> str:
    """A claim as API Gateway passes it on: every value a string, arrays as ``[a b]``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_render_claim(item) for item in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)
