"""The HTTP gateway over real sockets, with moto's Cognito issuing and serving the keys.

One moto server and one gateway per module. The handler is a real Powertools
``APIGatewayHttpResolver`` app; every refusal is checked to have never reached it.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import jwt
import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.shared.cookies import Cookie
from cryptography.hazmat.primitives.asymmetric import rsa
from moto.server import ThreadedMotoServer
from moto.utilities.utils import load_resource

from local.http_gateway import HttpGateway, HttpRoute, JwtAuthorizerConfig

PASSWORD = "Perm-Passw0rd!"
ADMIN_SCOPE = "aws.cognito.signin.user.admin"  # the scope moto puts in every access token
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4

app = APIGatewayHttpResolver()
calls: list[str] = []
_calls_lock = threading.Lock()


def _identity() -> dict[str, Any]:
    authorizer = app.current_event.request_context.authorizer
    return {"claims": authorizer.jwt_claim, "scopes": authorizer.jwt_scopes}


@app.get("/me")
def me() -> dict[str, Any]:
    return _identity()


@app.get("/admin")
def admin() -> dict[str, Any]:
    return _identity()


@app.get("/public")
def public() -> dict[str, Any]:
    return {"public": True, "cookies": app.current_event.cookies}


@app.get("/boom")
def boom() -> dict[str, Any]:
    raise RuntimeError("database password is hunter2")


@app.get("/logo")
def logo() -> Response[bytes]:
    cookies = [Cookie(name="a", value="1"), Cookie(name="b", value="2")]
    return Response(status_code=200, content_type="image/png", body=PNG, cookies=cookies)


@app.get("/old")
def old() -> Response[str]:
    return Response(status_code=302, headers={"Location": "/public"}, body="")


@app.post("/upload")
def upload() -> dict[str, Any]:
    event = app.current_event
    body = base64.b64decode(event.body or "") if event.is_base64_encoded else (event.body or "").encode()
    return {"isBase64Encoded": event.is_base64_encoded, "sha256": hashlib.sha256(body).hexdigest()}


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    with _calls_lock:
        calls.append(event["rawPath"])
    return app.resolve(event, context)


ROUTES = [
    HttpRoute("GET /me", lambda_handler, "api", authorization="JWT"),
    HttpRoute("GET /admin", lambda_handler, "api", authorization="JWT", scopes=(ADMIN_SCOPE, "nfe/admin")),
    HttpRoute("GET /public", lambda_handler, "api", "NONE"),
    HttpRoute("GET /boom", lambda_handler, "api", "NONE"),
    HttpRoute("GET /logo", lambda_handler, "api", "NONE"),
    HttpRoute("GET /old", lambda_handler, "api", "NONE"),
    HttpRoute("POST /upload", lambda_handler, "api", "NONE"),
]


@dataclass(frozen=True)
class Cognito:
    """A moto user pool with one user, and the tokens that user got by signing in."""

    pool_id: str
    client_id: str
    issuer: str
    access_token: str
    id_token: str

    def claims(self, token: str) -> dict[str, Any]:
        """A token's claims, read without verification (the test already trusts moto)."""
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        return claims


@dataclass(frozen=True)
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as env:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            env.setenv(name, value)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        _, port = server.get_host_and_port()
        yield f"http://localhost:{port}"
        server.stop()


@pytest.fixture(scope="module")
def cognito(moto_endpoint: str) -> Cognito:
    idp = boto3.client("cognito-idp", endpoint_url=moto_endpoint)
    pool_id = idp.create_user_pool(PoolName="fiscalmix")["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(
        UserPoolId=pool_id, ClientName="web", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pool_id, Username="ana", TemporaryPassword="Temp-Passw0rd!")
    idp.admin_set_user_password(UserPoolId=pool_id, Username="ana", Password=PASSWORD, Permanent=True)
    tokens = idp.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "ana", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    return Cognito(
        pool_id=pool_id,
        client_id=client_id,
        issuer=f"https://cognito-idp.us-east-1.amazonaws.com/{pool_id}",
        access_token=tokens["AccessToken"],
        id_token=tokens["IdToken"],
    )


@pytest.fixture(scope="module")
def gateway(moto_endpoint: str, cognito: Cognito) -> Iterator[HttpGateway]:
    authorizer = JwtAuthorizerConfig(
        issuer=cognito.issuer,
        audience=(cognito.client_id,),
        jwks_url=f"{moto_endpoint}/{cognito.pool_id}/.well-known/jwks.json",
    )
    with HttpGateway(ROUTES, authorizer=authorizer) as running:
        yield running


@pytest.fixture(scope="module")
def moto_signing_key() -> Any:
    """The private key moto signs every Cognito token with (public test data in its wheel)."""
    return jwt.algorithms.RSAAlgorithm.from_jwk(
        json.dumps(load_resource("cognitoidp/resources/jwks-private.json"))
    )


def call(
    gateway: HttpGateway,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> Reply:
    host, port = gateway.server_address
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        connection.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# Where the gateway listens -------------------------------------------------------------------------


def test_the_gateway_listens_on_loopback_only(gateway: HttpGateway) -> None:
    host, port = gateway.server_address

    assert host == "127.0.0.1"
    assert port > 0
    assert gateway.url == f"http://127.0.0.1:{port}"


# The JWT authorizer ----------------------------------------------------------------------------------


def test_an_access_token_reaches_the_handler_with_its_claims_where_powertools_reads_them(
    gateway: HttpGateway, cognito: Cognito
) -> None:
    token_claims = cognito.claims(cognito.access_token)

    reply = call(gateway, "GET", "/me", bearer(cognito.access_token))

    assert reply.status == 200
    claims = reply.json()["claims"]
    assert claims["sub"] == token_claims["sub"]
    assert claims["username"] == "ana"
    assert claims["client_id"] == cognito.client_id
    assert claims["token_use"] == "access"
    assert claims["scope"] == ADMIN_SCOPE
    assert claims["exp"] == str(token_claims["exp"])
    assert reply.json()["scopes"] is None


def test_a_scoped_route_accepts_an_access_token_with_one_of_its_scopes(
    gateway: HttpGateway, cognito: Cognito
) -> None:
    reply = call(gateway, "GET", "/admin", bearer(cognito.access_token))

    assert reply.status == 200
    assert reply.json()["scopes"] == [ADMIN_SCOPE]


def test_an_id_token_passes_on_an_unscoped_route_through_its_aud(
    gateway: HttpGateway, cognito: Cognito
) -> None:
    reply = call(gateway, "GET", "/me", bearer(cognito.id_token))

    assert reply.status == 200
    assert reply.json()["claims"]["aud"] == cognito.client_id
    assert reply.json()["claims"]["cognito:username"] == "ana"


def test_the_bearer_prefix_is_optional(gateway: HttpGateway, cognito: Cognito) -> None:
    assert call(gateway, "GET", "/me", {"Authorization": cognito.access_token}).status == 200


@dataclass(frozen=True)
class Refusal:
    path: str
    authorization: Callable[[Cognito, Any], str | None]
    status: int
    challenge: str


def _minted(
    key: Any = None, kid: str = "dummy", algorithm: str = "RS256", **overrides: Any
) -> Callable[..., str]:
    """A token like the pool's access token, re-signed after ``overrides`` (None drops a claim)."""

    def mint(cognito: Cognito, moto_key: Any) -> str:
        claims = {**cognito.claims(cognito.access_token), **overrides}
        claims = {name: value for name, value in claims.items() if value is not None}
        return "Bearer " + jwt.encode(claims, key or moto_key, algorithm=algorithm, headers={"kid": kid})

    return mint


def _id_token_with(**overrides: Any) -> Callable[[Cognito, Any], str]:
    def mint(cognito: Cognito, moto_key: Any) -> str:
        claims = {**cognito.claims(cognito.id_token), **overrides}
        return "Bearer " + jwt.encode(claims, moto_key, algorithm="RS256", headers={"kid": "dummy"})

    return mint


_OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_NOW = int(time.time())
REFUSALS = {
    "missing token": Refusal("/me", lambda cognito, key: None, 401, 'Bearer scope=""'),
    "empty bearer": Refusal("/me", lambda cognito, key: "Bearer ", 401, 'Bearer scope=""'),
    "malformed token": Refusal("/me", lambda cognito, key: "Bearer not-a-jwt", 401, "could not be decoded"),
    "bad signature": Refusal("/me", _minted(key=_OTHER_KEY), 401, "signature is invalid"),
    "unknown kid": Refusal("/me", _minted(kid="rotated-away"), 401, "kid does not match"),
    "hs256 token": Refusal(
        "/me",
        _minted(key="a-shared-secret-of-32-bytes-or-more", algorithm="HS256"),
        401,
        "signing method HS256",
    ),
    "expired": Refusal("/me", _minted(iat=_NOW - 7200, exp=_NOW - 3600), 401, "the token has expired"),
    "no exp": Refusal("/me", _minted(exp=None), 401, "no exp claim"),
    "wrong client id": Refusal(
        "/me", _minted(client_id="someone-else"), 401, "does not have a valid audience"
    ),
    "aud wins over client_id": Refusal(
        "/me", _minted(aud="someone-else"), 401, "does not have a valid audience"
    ),
    "id token for another client": Refusal("/me", _id_token_with(aud="someone-else"), 401, "valid audience"),
    "wrong issuer": Refusal(
        "/me", _minted(iss="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other"), 401, "valid issuer"
    ),
    "id token on a scoped route": Refusal(
        "/admin",
        lambda cognito, key: f"Bearer {cognito.id_token}",
        403,
        f'Bearer scope="{ADMIN_SCOPE} nfe/admin" error="insufficient_scope"',
    ),
    "access token without the route's scopes": Refusal(
        "/admin", _minted(scope="openid profile"), 403, 'error="insufficient_scope"'
    ),
}


@pytest.mark.parametrize("case", REFUSALS.values(), ids=REFUSALS.keys())
def test_refused_tokens_never_reach_the_handler(
    gateway: HttpGateway, cognito: Cognito, moto_signing_key: Any, case: Refusal
) -> None:
    authorization = case.authorization(cognito, moto_signing_key)
    calls_before = len(calls)

    reply = call(gateway, "GET", case.path, {"Authorization": authorization} if authorization else {})

    assert reply.status == case.status
    assert reply.json() == {"message": "Unauthorized" if case.status == 401 else "Forbidden"}
    assert case.challenge in reply.headers["www-authenticate"]
    if case.status == 401 and authorization and authorization.strip() != "Bearer":
        assert 'error="invalid_token"' in reply.headers["www-authenticate"]
    assert len(calls) == calls_before


# Everything else API Gateway does --------------------------------------------------------------------


def test_a_public_route_needs_no_token_and_is_logged_in_one_line(
    gateway: HttpGateway, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="local.http_gateway"):
        reply = call(gateway, "GET", "/public?token=secret", {"Cookie": "session=abc; theme=dark"})

    assert reply.status == 200
    assert reply.json() == {"public": True, "cookies": ["session=abc", "theme=dark"]}
    assert reply.headers["apigw-requestid"]
    lines = [record.getMessage() for record in caplog.records if record.name == "local.http_gateway.server"]
    assert len(lines) == 1
    assert lines[0].startswith("GET /public 200 ")
    assert lines[0].endswith("ms")
    assert "secret" not in lines[0]


def test_a_raising_handler_is_a_500_that_hides_the_traceback(
    gateway: HttpGateway, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        reply = call(gateway, "GET", "/boom")

    assert reply.status == 500
    assert reply.json() == {"message": "Internal Server Error"}
    assert b"hunter2" not in reply.body
    assert "hunter2" in caplog.text
    assert "Traceback" in caplog.text


def test_an_unknown_route_is_a_404(gateway: HttpGateway) -> None:
    calls_before = len(calls)

    reply = call(gateway, "GET", "/nowhere")

    assert (reply.status, reply.json()) == (404, {"message": "Not Found"})
    assert len(calls) == calls_before


def test_binary_response_bytes_and_cookies_arrive_intact(gateway: HttpGateway) -> None:
    reply = call(gateway, "GET", "/logo")

    assert reply.status == 200
    assert reply.headers["content-type"] == "image/png"
    assert reply.body == PNG
    assert reply.headers.get_all("set-cookie") == ["a=1; Secure", "b=2; Secure"]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_binary_request_bodies_reach_the_handler_intact(gateway: HttpGateway, chunked: bool) -> None:
    payload = os.urandom(300_000)
    host, port = gateway.server_address
    connection = http.client.HTTPConnection(host, port, timeout=10)
    headers = {"Content-Type": "application/octet-stream"}
    body: Any = (payload[i : i + 65536] for i in range(0, len(payload), 65536)) if chunked else payload

    connection.request("POST", "/upload", body=body, headers=headers, encode_chunked=chunked)
    response = connection.getresponse()

    assert response.status == 200
    assert json.loads(response.read()) == {
        "isBase64Encoded": True,
        "sha256": hashlib.sha256(payload).hexdigest(),
    }
    connection.close()


def test_a_redirect_passes_through_untouched(gateway: HttpGateway) -> None:
    reply = call(gateway, "GET", "/old")

    assert reply.status == 302
    assert reply.headers["location"] == "/public"


def test_a_payload_over_10_mb_is_a_413_before_the_body_is_read(gateway: HttpGateway) -> None:
    host, port = gateway.server_address
    connection = http.client.HTTPConnection(host, port, timeout=10)
    calls_before = len(calls)

    # Announce one byte over the quota and send nothing: the gateway must answer on the header alone.
    connection.putrequest("POST", "/upload")
    connection.putheader("Content-Type", "application/octet-stream")
    connection.putheader("Content-Length", str(10 * 1024 * 1024 + 1))
    connection.endheaders()
    response = connection.getresponse()

    assert response.status == 413
    assert json.loads(response.read()) == {"message": "Request Entity Too Large"}
    assert response.headers["connection"] == "close"
    assert len(calls) == calls_before
    connection.close()


def test_a_handler_slower_than_the_integration_timeout_is_a_503() -> None:
    release = threading.Event()

    def stuck(event: dict[str, Any], context: Any) -> Any:
        release.wait(5)
        return {"statusCode": 200}

    with HttpGateway(
        [HttpRoute("GET /stuck", stuck, "stuck", "NONE")], integration_timeout_seconds=0.2
    ) as local:
        reply = call(local, "GET", "/stuck")
    release.set()

    assert (reply.status, reply.json()) == (503, {"message": "Service Unavailable"})
