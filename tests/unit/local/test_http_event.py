"""The HTTP gateway without sockets: payload 2.0 events, routing, response mapping, failures."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from typing import Any

import jwt
import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from cryptography.hazmat.primitives.asymmetric import rsa

from local.http_gateway import (
    HttpApi,
    HttpRequest,
    HttpRoute,
    JwtAuthorizerConfig,
    RouteTable,
    build_http_event,
    response_from_lambda,
)
from local.http_gateway.responses import MalformedLambdaResponse
from local.jwt_authorizer import AuthorizationDenied, JwtAuthorizer
from local.lambda_runtime import LocalLambdaContext

# The key layout of Powertools' canonical sample, tests/events/apiGatewayProxyV2Event.json, less
# what API Gateway sends only when configured: mTLS (authentication), stage variables, an authorizer.
SAMPLE_TOP_LEVEL_KEYS = {
    "version",
    "routeKey",
    "rawPath",
    "rawQueryString",
    "cookies",
    "headers",
    "queryStringParameters",
    "requestContext",
    "body",
    "pathParameters",
    "isBase64Encoded",
}
SAMPLE_REQUEST_CONTEXT_KEYS = {
    "accountId",
    "apiId",
    "domainName",
    "domainPrefix",
    "http",
    "requestId",
    "routeKey",
    "stage",
    "time",
    "timeEpoch",
}
SAMPLE_HTTP_KEYS = {"method", "path", "protocol", "sourceIp", "userAgent"}
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_local"
CLIENT_ID = "local-client"


def _noop(event: dict[str, Any], context: Any) -> Any:
    return {"statusCode": 204}


def sample_request(**overrides: Any) -> HttpRequest:
    """The request behind Powertools' sample event, sent to a local gateway."""
    fields: dict[str, Any] = {
        "method": "POST",
        "target": "/my/path?parameter1=value1&parameter1=value2&parameter2=value",
        "headers": (
            ("Host", "127.0.0.1:8080"),
            ("Header1", "value1"),
            ("Header2", "value1"),
            ("Header2", "value2"),
            ("User-Agent", "agent"),
            ("Content-Type", "application/json"),
            ("Cookie", "cookie1=a; cookie2=b"),
        ),
        "body": b'{"message": "hello world", "username": "tom"}',
        "source_ip": "192.168.0.1",
    }
    fields.update(overrides)
    return HttpRequest(**fields)


def sample_event(request: HttpRequest | None = None, **overrides: Any) -> dict[str, Any]:
    """A built event with fixed route, id and time, so assertions can name them."""
    arguments: dict[str, Any] = {
        "route_key": "POST /my/{parameter1}",
        "path_parameters": {"parameter1": "path"},
        "api_id": "local",
        "request_id": "Mc7UVioPPHcEKPA=",
        "received_at": 1583348638.390,
    }
    arguments.update(overrides)
    return build_http_event(request or sample_request(), **arguments)


# Events ------------------------------------------------------------------------------------------


def test_event_has_the_shape_of_the_canonical_sample() -> None:
    event = sample_event()

    assert set(event) == SAMPLE_TOP_LEVEL_KEYS
    assert set(event["requestContext"]) == SAMPLE_REQUEST_CONTEXT_KEYS
    assert set(event["requestContext"]["http"]) == SAMPLE_HTTP_KEYS
    assert event["version"] == "2.0"
    assert event["requestContext"]["stage"] == "$default"
    assert event["requestContext"]["time"] == "04/Mar/2020:19:03:58 +0000"
    assert event["requestContext"]["timeEpoch"] == 1583348638390


def test_event_lowercases_and_joins_headers_and_moves_cookies_out() -> None:
    event = sample_event()

    assert event["headers"]["header1"] == "value1"
    assert event["headers"]["header2"] == "value1,value2"
    assert "cookie" not in event["headers"]
    assert event["cookies"] == ["cookie1=a", "cookie2=b"]
    assert event["headers"]["x-forwarded-for"] == "192.168.0.1"
    assert event["headers"]["x-forwarded-port"] == "8080"


def test_event_keeps_the_raw_query_string_and_joins_repeated_parameters() -> None:
    event = sample_event(sample_request(target="/my/path?a=1&a=2&b=caf%C3%A9&flag"))

    assert event["rawQueryString"] == "a=1&a=2&b=caf%C3%A9&flag"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "café", "flag": ""}


def test_event_leaves_out_what_the_request_does_not_have() -> None:
    request = HttpRequest(method="GET", target="/my/path", headers=(("Host", "localhost"),))

    event = sample_event(request, route_key="$default", path_parameters={})

    for absent in ("cookies", "queryStringParameters", "pathParameters", "body", "stageVariables"):
        assert absent not in event
    assert event["rawQueryString"] == ""
    assert event["isBase64Encoded"] is False
    assert "authorizer" not in event["requestContext"]


def test_powertools_reads_the_built_event() -> None:
    event = sample_event()
    event["requestContext"]["authorizer"] = {"jwt": {"claims": {"sub": "user-1"}, "scopes": ["a"]}}

    parsed = APIGatewayProxyEventV2(event)

    assert parsed.http_method == "POST"
    assert parsed.path == "/my/path"
    assert parsed.route_key == "POST /my/{parameter1}"
    assert parsed.headers.get("Header2") == "value1,value2"
    assert parsed.get_query_string_value("parameter1") == "value1,value2"
    assert parsed.query_string_parameters == {"parameter1": "value1,value2", "parameter2": "value"}
    assert parsed.cookies == ["cookie1=a", "cookie2=b"]
    assert parsed.path_parameters == {"parameter1": "path"}
    assert parsed.json_body == {"message": "hello world", "username": "tom"}
    assert parsed.request_context.http.source_ip == "192.168.0.1"
    assert parsed.request_context.http.user_agent == "agent"
    assert parsed.request_context.request_id == "Mc7UVioPPHcEKPA="
    assert parsed.request_context.time_epoch == 1583348638390
    assert parsed.request_context.authorizer.jwt_claim == {"sub": "user-1"}
    assert parsed.request_context.authorizer.jwt_scopes == ["a"]


@pytest.mark.parametrize(
    ("content_type", "encoded"),
    [
        ("application/json", False),
        ("application/json; charset=utf-8", False),
        ("text/xml", False),
        ("application/vnd.api+json", False),
        ("application/soap+xml", False),
        ("application/octet-stream", True),
        ("application/zip", True),
        ("application/x-www-form-urlencoded", True),
        ("", True),
    ],
)
def test_request_bodies_are_base64_unless_text(content_type: str, encoded: bool) -> None:
    body = b"<nfeProc>a=1</nfeProc>"
    request = sample_request(headers=(("Content-Type", content_type),), body=body)

    event = sample_event(request)

    assert event["isBase64Encoded"] is encoded
    assert APIGatewayProxyEventV2(event).decoded_body == body.decode()
    if encoded:
        assert base64.b64decode(event["body"]) == body


def test_binary_bytes_labelled_as_text_still_travel_as_base64() -> None:
    body = bytes(range(256))
    request = sample_request(headers=(("Content-Type", "text/plain"),), body=body)

    event = sample_event(request)

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body


# Routes ------------------------------------------------------------------------------------------

ROUTE_KEYS = (
    "GET /companies",
    "GET /companies/{company_id}",
    "GET /companies/export",
    "GET /companies/{company_id}/documents",
    "ANY /companies/{company_id}/documents",
    "GET /files/{proxy+}",
    "ANY /files/{proxy+}",
    "GET /",
    "$default",
)
TABLE = RouteTable([HttpRoute(key, _noop, "api", "NONE") for key in ROUTE_KEYS])


@pytest.mark.parametrize(
    ("method", "path", "route_key", "parameters"),
    [
        ("GET", "/", "GET /", {}),
        ("GET", "/companies", "GET /companies", {}),
        ("GET", "/companies/export", "GET /companies/export", {}),
        ("GET", "/companies/123", "GET /companies/{company_id}", {"company_id": "123"}),
        ("GET", "/companies/a%20b", "GET /companies/{company_id}", {"company_id": "a b"}),
        ("GET", "/companies/1/documents", "GET /companies/{company_id}/documents", {"company_id": "1"}),
        ("POST", "/companies/1/documents", "ANY /companies/{company_id}/documents", {"company_id": "1"}),
        ("GET", "/files/2024/01/a.xml", "GET /files/{proxy+}", {"proxy": "2024/01/a.xml"}),
        ("DELETE", "/files/a.xml", "ANY /files/{proxy+}", {"proxy": "a.xml"}),
        ("GET", "/files", "$default", {}),
        ("GET", "/files/", "$default", {}),
        ("POST", "/companies", "$default", {}),
        ("GET", "/nowhere/at/all", "$default", {}),
    ],
)
def test_the_most_specific_route_wins(
    method: str, path: str, route_key: str, parameters: dict[str, str]
) -> None:
    match = TABLE.match(method, path)

    assert match is not None
    assert match.route.route_key == route_key
    assert match.path_parameters == parameters


def test_without_a_default_route_an_unknown_path_matches_nothing() -> None:
    table = RouteTable([HttpRoute("GET /companies/{company_id}", _noop, "api", "NONE")])

    assert table.match("GET", "/companies") is None
    assert table.match("GET", "/companies/") is None
    assert table.match("PUT", "/companies/1") is None


@pytest.mark.parametrize("route_key", ["GET companies", "FETCH /x", "GET /{proxy+}/x", "default"])
def test_route_keys_api_gateway_rejects_are_rejected(route_key: str) -> None:
    with pytest.raises(ValueError, match="route key"):
        HttpRoute(route_key, _noop, "api", "NONE")


def test_duplicate_route_keys_are_rejected() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        RouteTable([HttpRoute("GET /a", _noop, "api", "NONE"), HttpRoute("GET /a", _noop, "other", "NONE")])


# Responses ---------------------------------------------------------------------------------------


def test_a_full_response_keeps_status_headers_and_cookies() -> None:
    response = response_from_lambda(
        {
            "statusCode": 201,
            "headers": {"Content-Type": "application/json", "X-One": "1", "Content-Length": "999"},
            "multiValueHeaders": {"X-Many": ["a", "b"], "x-one": ["2"]},
            "cookies": ["session=abc; HttpOnly", "theme=dark"],
            "body": '{"id": 1}',
        }
    )

    assert response.status == 201
    assert response.headers == (
        ("Content-Type", "application/json"),
        ("X-Many", "a"),
        ("X-Many", "b"),
        ("x-one", "2"),
        ("set-cookie", "session=abc; HttpOnly"),
        ("set-cookie", "theme=dark"),
    )
    assert response.body == b'{"id": 1}'


@pytest.mark.parametrize(
    ("result", "body"),
    [
        ({"message": "Hello from Lambda!"}, b'{"message": "Hello from Lambda!"}'),
        ("Hello from Lambda!", b"Hello from Lambda!"),
        ([1, 2], b"[1, 2]"),
        (None, b"null"),
    ],
)
def test_results_without_status_code_are_simple_responses(result: Any, body: bytes) -> None:
    response = response_from_lambda(result)

    assert response.status == 200
    assert response.header("content-type") == "application/json"
    assert response.body == body


def test_a_base64_body_is_sent_as_its_bytes() -> None:
    payload = bytes(range(256))

    response = response_from_lambda(
        {"statusCode": 200, "body": base64.b64encode(payload).decode(), "isBase64Encoded": True}
    )

    assert response.body == payload


def test_a_redirect_passes_through_untouched() -> None:
    response = response_from_lambda({"statusCode": 302, "headers": {"Location": "https://example.com/x?y=1"}})

    assert response.status == 302
    assert response.headers == (("Location", "https://example.com/x?y=1"),)
    assert response.body == b""


@pytest.mark.parametrize(
    "result",
    [
        {"statusCode": "200"},
        {"statusCode": 42},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "body": "%%%", "isBase64Encoded": True},
        {"statusCode": 200, "cookies": "a=b"},
        {"statusCode": 200, "multiValueHeaders": {"x": "not-a-list"}},
        {1, 2},
    ],
)
def test_results_api_gateway_cannot_map_are_malformed(result: Any) -> None:
    with pytest.raises(MalformedLambdaResponse):
        response_from_lambda(result)


# The integration: what API Gateway answers for itself ---------------------------------------------


def test_an_unknown_route_is_a_404_without_calling_anything() -> None:
    api = HttpApi([HttpRoute("GET /companies", _noop, "api", "NONE")])

    response = api.handle(HttpRequest("GET", "/nowhere"))

    assert response.status == 404
    assert json.loads(response.body) == {"message": "Not Found"}
    assert response.header("apigw-requestid")


def test_the_handler_gets_the_event_and_a_context_with_the_function_timeout() -> None:
    seen: list[tuple[dict[str, Any], Any]] = []

    def handler(event: dict[str, Any], context: Any) -> Any:
        seen.append((event, context))
        return {"statusCode": 200, "body": "ok"}

    api = HttpApi([HttpRoute("GET /companies/{company_id}", handler, "api-fn", "NONE", timeout_seconds=12)])

    response = api.handle(HttpRequest("GET", "/companies/7", (("Host", "localhost"),)))

    assert response.status == 200
    event, context = seen[0]
    assert event["pathParameters"] == {"company_id": "7"}
    assert event["requestContext"]["requestId"] == response.header("apigw-requestid")
    assert isinstance(context, LocalLambdaContext)
    assert context.function_name == "api-fn"
    assert 0 < context.get_remaining_time_in_millis() <= 12_000


def test_a_raising_handler_is_a_bare_500_and_the_traceback_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def handler(event: dict[str, Any], context: Any) -> Any:
        raise RuntimeError("secret detail from the database")

    api = HttpApi([HttpRoute("GET /boom", handler, "api", "NONE")])

    with caplog.at_level(logging.ERROR):
        response = api.handle(HttpRequest("GET", "/boom"))

    assert response.status == 500
    assert json.loads(response.body) == {"message": "Internal Server Error"}
    assert b"secret" not in response.body
    assert "secret detail from the database" in caplog.text
    assert "Traceback" in caplog.text


def test_a_malformed_result_is_a_500() -> None:
    api = HttpApi([HttpRoute("GET /bad", lambda event, context: {"statusCode": "ok"}, "api", "NONE")])

    assert api.handle(HttpRequest("GET", "/bad")).status == 500


def test_the_integration_timeout_is_a_503_and_the_function_timeout_a_500() -> None:
    release, finished = threading.Event(), threading.Event()

    def slow(event: dict[str, Any], context: Any) -> Any:
        release.wait(30)
        finished.set()
        return "late"

    api = HttpApi(
        [
            HttpRoute("GET /slow-integration", slow, "api", "NONE", timeout_seconds=30),
            HttpRoute("GET /slow-function", slow, "api", "NONE", timeout_seconds=0.05),
        ],
        integration_timeout_seconds=0.1,
    )

    integration = api.handle(HttpRequest("GET", "/slow-integration"))
    function = api.handle(HttpRequest("GET", "/slow-function"))
    # Both answered while their function was still running: the gateway did not wait for it.
    answered_first = not finished.is_set()
    release.set()

    assert (integration.status, json.loads(integration.body)) == (503, {"message": "Service Unavailable"})
    assert (function.status, json.loads(function.body)) == (500, {"message": "Internal Server Error"})
    assert answered_first


def test_jwt_routes_need_an_authorizer() -> None:
    with pytest.raises(ValueError, match="no authorizer"):
        HttpApi([HttpRoute("GET /me", _noop, "api", authorization="JWT")])


# The authorizer's part of the event -----------------------------------------------------------------


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def authorizer(signing_key: rsa.RSAPrivateKey) -> JwtAuthorizer:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    jwks = {"keys": [{**jwk, "kid": "k1", "alg": "RS256", "use": "sig"}]}
    config = JwtAuthorizerConfig(issuer=ISSUER, audience=(CLIENT_ID,), jwks_url="http://jwks.invalid/")
    return JwtAuthorizer(config, fetcher=lambda url: jwks)


def bearer_event(signing_key: rsa.RSAPrivateKey, **claims: Any) -> dict[str, Any]:
    now = int(time.time())
    payload = {"iss": ISSUER, "client_id": CLIENT_ID, "sub": "user-1", "iat": now, "exp": now + 60, **claims}
    token = jwt.encode(payload, signing_key, algorithm="RS256", headers={"kid": "k1"})
    request = HttpRequest("GET", "/me", (("Authorization", f"Bearer {token}"),))
    return sample_event(request, route_key="GET /me", path_parameters={})


def test_claims_reach_the_event_as_strings_the_way_api_gateway_renders_them(
    authorizer: JwtAuthorizer, signing_key: rsa.RSAPrivateKey
) -> None:
    event = bearer_event(
        signing_key,
        **{"cognito:groups": ["admin", "viewer"], "email_verified": True, "address": {"country": "BR"}},
        exp=4102444800,
        nickname=None,
    )

    context = authorizer.authorize(event, route_scopes=())

    claims = context["jwt"]["claims"]
    assert claims["cognito:groups"] == "[admin viewer]"
    assert claims["email_verified"] == "true"
    assert claims["address"] == '{"country":"BR"}'
    assert claims["exp"] == "4102444800"
    assert "nickname" not in claims
    assert context["jwt"]["scopes"] is None


def test_scopes_reach_the_event_only_on_scoped_routes(
    authorizer: JwtAuthorizer, signing_key: rsa.RSAPrivateKey
) -> None:
    event = bearer_event(signing_key, scope="nfe/read nfe/write")

    assert authorizer.authorize(event, route_scopes=("nfe/read",))["jwt"]["scopes"] == [
        "nfe/read",
        "nfe/write",
    ]
    assert authorizer.authorize(event, route_scopes=())["jwt"]["scopes"] is None


@pytest.mark.parametrize(
    ("claims", "description"),
    [
        ({"nbf": int(time.time()) + 3600}, "not valid yet"),
        ({"iat": int(time.time()) + 3600}, "issued in the future"),
        ({"exp": "tomorrow"}, "exp claim is not a number"),
        ({"aud": ["someone-else"]}, "valid audience"),
    ],
)
def test_time_and_audience_claims_are_enforced(
    authorizer: JwtAuthorizer, signing_key: rsa.RSAPrivateKey, claims: dict[str, Any], description: str
) -> None:
    with pytest.raises(AuthorizationDenied, match=description) as denied:
        authorizer.authorize(bearer_event(signing_key, **claims), route_scopes=())

    assert denied.value.status == 401


def test_the_identity_source_can_be_a_query_parameter(signing_key: rsa.RSAPrivateKey) -> None:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    config = JwtAuthorizerConfig(
        issuer=ISSUER,
        audience=(CLIENT_ID,),
        jwks_url="http://jwks.invalid/",
        identity_source="$request.querystring.token",
    )
    authorizer = JwtAuthorizer(config, fetcher=lambda url: {"keys": [{**jwk, "kid": "k1", "alg": "RS256"}]})
    now = int(time.time())
    token = jwt.encode(
        {"iss": ISSUER, "client_id": CLIENT_ID, "exp": now + 60}, signing_key, "RS256", headers={"kid": "k1"}
    )

    event = sample_event(sample_request(target=f"/me?token={token}"))

    assert authorizer.authorize(event, route_scopes=())["jwt"]["claims"]["client_id"] == CLIENT_ID


@pytest.mark.parametrize(
    "overrides",
    [
        {"audience": ()},
        {"jwks_url": "file:///etc/passwd"},
        {"identity_source": "$request.cookie.token"},
    ],
)
def test_authorizer_configs_api_gateway_rejects_are_rejected(overrides: dict[str, Any]) -> None:
    fields: dict[str, Any] = {"issuer": ISSUER, "audience": (CLIENT_ID,), "jwks_url": "http://x/jwks.json"}

    with pytest.raises(ValueError):
        JwtAuthorizerConfig(**{**fields, **overrides})


def test_keys_are_fetched_once_and_again_only_for_an_unknown_kid(signing_key: rsa.RSAPrivateKey) -> None:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    published = [{**jwk, "kid": "k1", "alg": "RS256"}]
    fetches: list[str] = []

    def fetcher(url: str) -> dict[str, Any]:
        fetches.append(url)
        return {"keys": list(published)}

    config = JwtAuthorizerConfig(issuer=ISSUER, audience=(CLIENT_ID,), jwks_url="http://jwks.invalid/k")
    authorizer = JwtAuthorizer(config, fetcher=fetcher)
    for _ in range(3):
        authorizer.authorize(bearer_event(signing_key), route_scopes=())
    # The issuer rotates: the new key appears in its JWKS under a new kid.
    published.append({**jwk, "kid": "k2", "alg": "RS256"})
    now = int(time.time())
    rotated = jwt.encode(
        {"iss": ISSUER, "client_id": CLIENT_ID, "exp": now + 60}, signing_key, "RS256", headers={"kid": "k2"}
    )
    request = HttpRequest("GET", "/me", (("Authorization", f"Bearer {rotated}"),))

    authorizer.authorize(sample_event(request), route_scopes=())

    assert fetches == ["http://jwks.invalid/k", "http://jwks.invalid/k"]
