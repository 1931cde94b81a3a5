"""The WebSocket gateway over real sockets: a ``websockets`` client on one side, boto3 on the other.

Each test starts its own gateway on free loopback ports with handlers that record their events,
so what a handler saw and what the client got can both be checked.
"""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Close
from websockets.sync.client import ClientConnection, connect

from local.ws_gateway import WsApiConfig, WsGateway, WsRoute

Event = dict[str, Any]
Answer = Callable[[Event], Any]
WAIT_S = 5.0


class Lambdas:
    """Route handlers that record every event they get, per route, and answer as told."""

    def __init__(self) -> None:
        self._events: dict[str, queue.Queue[Event]] = {}

    def route(self, route_key: str, answer: Answer | None = None, *, two_way: bool = False) -> WsRoute:
        events: queue.Queue[Event] = queue.Queue()
        self._events[route_key] = events

        def handler(event: Event, context: Any) -> Any:
            events.put(event)
            return {"statusCode": 200} if answer is None else answer(event)

        return WsRoute(route_key, handler, f"fn-{route_key.strip('$')}", two_way=two_way)

    def next_event(self, route_key: str) -> Event:
        return self._events[route_key].get(timeout=WAIT_S)

    def pending(self, route_key: str) -> int:
        return self._events[route_key].qsize()


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def lambdas() -> Lambdas:
    return Lambdas()


@pytest.fixture
def start_gateway() -> Iterator[Callable[..., WsGateway]]:
    gateways: list[WsGateway] = []

    def start(*routes: WsRoute, **settings: Any) -> WsGateway:
        gateway = WsGateway(WsApiConfig(routes=routes, **settings))
        gateway.start()
        gateways.append(gateway)
        return gateway

    yield start
    for gateway in gateways:
        gateway.stop()


def _management(endpoint_url: str | None) -> Any:
    return boto3.client("apigatewaymanagementapi", endpoint_url=endpoint_url, region_name="us-east-1")


def _connect(gateway: WsGateway, suffix: str = "", **options: Any) -> ClientConnection:
    client: ClientConnection = connect(gateway.url + suffix, open_timeout=WAIT_S, **options)
    return client


def _connection_id(lambdas: Lambdas) -> str:
    """The id of the connection just opened, as $connect saw it."""
    return str(lambdas.next_event("$connect")["requestContext"]["connectionId"])


def _ping_until_closed(client: ClientConnection) -> None:
    for _ in range(40):
        client.ping().wait(WAIT_S)
        time.sleep(0.05)


def _heartbeat_until_closed(client: ClientConnection) -> None:
    for _ in range(40):
        client.send('{"action": "heartbeat"}')
        time.sleep(0.05)


def _closed_by_server(client: ClientConnection) -> Close:
    """The close frame the server sent, waiting for it."""
    with pytest.raises(ConnectionClosed) as closed:
        client.recv(timeout=WAIT_S)
    assert closed.value.rcvd is not None
    return closed.value.rcvd


# -- $connect ---------------------------------------------------------------------------------


def test_connect_sees_headers_query_string_and_identity(start_gateway, lambdas) -> None:
    gateway = start_gateway(lambdas.route("$connect"))

    with _connect(gateway, "?agent=a-7&tag=x&tag=y", additional_headers={"X-Tenant": "t1"}):
        event = lambdas.next_event("$connect")

    context = event["requestContext"]
    assert (context["routeKey"], context["eventType"], context["stage"]) == ("$connect", "CONNECT", "prod")
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["userAgent"].startswith("Python/")
    assert event["headers"]["X-Tenant"] == "t1"
    assert event["multiValueHeaders"]["X-Tenant"] == ["t1"]
    assert event["queryStringParameters"] == {"agent": "a-7", "tag": "y"}
    assert event["multiValueQueryStringParameters"]["tag"] == ["x", "y"]


@pytest.mark.parametrize("status", [401, 403])
def test_refusing_connect_handler_fails_the_handshake(start_gateway, lambdas, status) -> None:
    refuse = lambdas.route("$connect", lambda event: {"statusCode": status, "body": "no token"})
    gateway = start_gateway(refuse, lambdas.route("$disconnect"))

    with pytest.raises(InvalidStatus) as refused:
        _connect(gateway)

    assert refused.value.response.status_code == status
    assert refused.value.response.body == b"no token"
    gateway.stop()
    assert lambdas.pending("$disconnect") == 0  # AWS calls $disconnect only for opened connections


@pytest.mark.parametrize("answer", [lambda event: 1 / 0, lambda event: None], ids=["raises", "returns-none"])
def test_failing_or_malformed_connect_handler_is_502(start_gateway, lambdas, answer) -> None:
    gateway = start_gateway(lambdas.route("$connect", answer))

    with pytest.raises(InvalidStatus) as refused:
        _connect(gateway)

    assert refused.value.response.status_code == 502


def test_connect_handler_selects_the_subprotocol(start_gateway, lambdas) -> None:
    choose = lambdas.route(
        "$connect", lambda event: {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "fiscalmix.v1"}}
    )
    gateway = start_gateway(choose)

    with _connect(gateway, subprotocols=["fiscalmix.v1", "fiscalmix.v0"]) as client:
        assert client.subprotocol == "fiscalmix.v1"
    offered = lambdas.next_event("$connect")["headers"]["Sec-WebSocket-Protocol"]
    assert offered == "fiscalmix.v1, fiscalmix.v0"


def test_paths_other_than_the_stage_are_forbidden(start_gateway, lambdas) -> None:
    gateway = start_gateway(lambdas.route("$connect"))
    root = gateway.url.rsplit("/", 1)[0]

    with pytest.raises(InvalidStatus) as refused:
        connect(root + "/dev", open_timeout=WAIT_S)

    assert refused.value.response.status_code == 403
    assert lambdas.pending("$connect") == 0


# -- messages ---------------------------------------------------------------------------------


def test_messages_go_to_the_route_their_action_names(start_gateway, lambdas) -> None:
    gateway = start_gateway(lambdas.route("sync"), lambdas.route("export"), lambdas.route("$default"))

    with _connect(gateway) as client:
        client.send(json.dumps({"action": "sync", "nsu": "1"}))
        client.send(json.dumps({"action": "export"}))
        client.send(json.dumps({"action": "nope"}))
        client.send("plain text")
        sync, export = lambdas.next_event("sync"), lambdas.next_event("export")
        defaults = {lambdas.next_event("$default")["body"] for _ in range(2)}

    assert sync["requestContext"]["routeKey"] == "sync"
    assert json.loads(sync["body"]) == {"action": "sync", "nsu": "1"}
    assert export["requestContext"]["eventType"] == "MESSAGE"
    assert defaults == {'{"action": "nope"}', "plain text"}


def test_only_two_way_routes_send_the_handler_body_back(start_gateway, lambdas) -> None:
    body = {"statusCode": 200, "body": "pong"}
    gateway = start_gateway(
        lambdas.route("oneway", lambda event: body), lambdas.route("ping", lambda event: body, two_way=True)
    )

    with _connect(gateway) as client:
        client.send(json.dumps({"action": "oneway"}))
        lambdas.next_event("oneway")
        client.send(json.dumps({"action": "ping"}))
        assert client.recv(timeout=WAIT_S) == "pong"
        with pytest.raises(TimeoutError):
            client.recv(timeout=0.2)


def test_no_matching_route_and_no_default_gets_forbidden(start_gateway, lambdas) -> None:
    gateway = start_gateway(lambdas.route("$connect"), lambdas.route("sync"))

    with _connect(gateway) as client:
        client.send(json.dumps({"action": "export"}))
        frame = json.loads(client.recv(timeout=WAIT_S))

    assert frame["message"] == "Forbidden"
    assert frame["connectionId"] == lambdas.next_event("$connect")["requestContext"]["connectionId"]
    assert frame["requestId"]


def test_failing_route_handler_gets_internal_server_error(start_gateway, lambdas) -> None:
    gateway = start_gateway(lambdas.route("boom", lambda event: 1 / 0))

    with _connect(gateway) as client:
        client.send(json.dumps({"action": "boom"}))
        frame = json.loads(client.recv(timeout=WAIT_S))

    assert frame["message"] == "Internal server error"
    assert frame["requestId"] == lambdas.next_event("boom")["requestContext"]["requestId"]


# -- @connections -----------------------------------------------------------------------------


def test_handler_answers_through_post_to_connection(start_gateway, lambdas) -> None:
    endpoint: list[str] = []

    def reply(event: Event) -> Any:
        # What ws_bridge does: a client of its own, pointed at the management endpoint.
        client = _management(endpoint[0])
        client.post_to_connection(ConnectionId=event["requestContext"]["connectionId"], Data=b'{"ok": true}')
        return {"statusCode": 200}

    gateway = start_gateway(lambdas.route("hello", reply))
    endpoint.append(gateway.management_url)

    with _connect(gateway) as client:
        client.send(json.dumps({"action": "hello"}))
        assert json.loads(client.recv(timeout=WAIT_S)) == {"ok": True}


def test_get_then_delete_connection(start_gateway, lambdas) -> None:
    gateway = start_gateway(lambdas.route("$connect"), lambdas.route("$disconnect"))
    management = _management(gateway.management_url)

    with _connect(gateway) as client:
        connection_id = _connection_id(lambdas)
        info = management.get_connection(ConnectionId=connection_id)
        management.delete_connection(ConnectionId=connection_id)
        closed = _closed_by_server(client)

    assert info["Identity"]["SourceIp"] == "127.0.0.1"
    assert info["Identity"]["UserAgent"].startswith("Python/")
    assert info["ConnectedAt"] <= info["LastActiveAt"]
    assert closed.code == 1000
    disconnect = lambdas.next_event("$disconnect")["requestContext"]
    assert (disconnect["connectionId"], disconnect["disconnectStatusCode"]) == (connection_id, 1000)
    with pytest.raises(management.exceptions.GoneException) as gone:
        management.post_to_connection(ConnectionId=connection_id, Data=b"late")
    assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410


@pytest.mark.parametrize(
    "call",
    [
        lambda management, cid: management.post_to_connection(ConnectionId=cid, Data=b"x"),
        lambda management, cid: management.get_connection(ConnectionId=cid),
        lambda management, cid: management.delete_connection(ConnectionId=cid),
    ],
    ids=["post", "get", "delete"],
)
def test_unknown_connection_is_gone(start_gateway, lambdas, call) -> None:
    management = _management(start_gateway().management_url)

    with pytest.raises(management.exceptions.GoneException):
        call(management, "L0SM9cOFvHcCIhw=")


def test_management_endpoint_of_another_stage_is_forbidden(start_gateway) -> None:
    gateway = start_gateway()
    management = _management(gateway.management_url.rsplit("/", 1)[0] + "/dev")

    with pytest.raises(management.exceptions.ForbiddenException):
        management.get_connection(ConnectionId="L0SM9cOFvHcCIhw=")


def test_management_endpoint_works_with_or_without_stage_and_from_the_environment(
    start_gateway, lambdas, monkeypatch
) -> None:
    gateway = start_gateway(lambdas.route("$connect"))
    root = gateway.management_url.rsplit("/", 1)[0]
    monkeypatch.setenv("AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI", gateway.management_url)

    with _connect(gateway) as client:
        connection_id = _connection_id(lambdas)
        for management in (_management(gateway.management_url), _management(root), _management(None)):
            management.post_to_connection(ConnectionId=connection_id, Data=b"hi")
            assert client.recv(timeout=WAIT_S) == "hi"


def test_posted_data_arrives_as_text_or_binary_in_32kb_frames(start_gateway, lambdas) -> None:
    gateway = start_gateway(lambdas.route("$connect"))
    management = _management(gateway.management_url)
    # A client that, like API Gateway, refuses frames over 32 KB: the gateway must fragment.
    with _connect(gateway, max_size=(128 * 1024, 32 * 1024)) as client:
        connection_id = _connection_id(lambdas)
        management.post_to_connection(ConnectionId=connection_id, Data=b"\xff\x00")
        assert client.recv(timeout=WAIT_S) == b"\xff\x00"
        text = "ç" * 60_000  # 120,000 bytes of UTF-8, frames cut mid-character
        management.post_to_connection(ConnectionId=connection_id, Data=text.encode())
        assert client.recv(timeout=WAIT_S) == text


def test_post_over_128kb_is_413(start_gateway, lambdas) -> None:
    gateway = start_gateway(lambdas.route("$connect"))
    management = _management(gateway.management_url)
    too_large = b"x" * (128 * 1024 + 1)

    with _connect(gateway):
        connection_id = _connection_id(lambdas)
        with pytest.raises(management.exceptions.PayloadTooLargeException):
            management.post_to_connection(ConnectionId=connection_id, Data=too_large)


# -- limits -----------------------------------------------------------------------------------


def test_frame_over_32kb_closes_with_1009(start_gateway, lambdas) -> None:
    gateway = start_gateway(lambdas.route("$default"), lambdas.route("$disconnect"))

    with _connect(gateway) as client:
        client.send("x" * (32 * 1024))  # exactly at the quota: accepted
        lambdas.next_event("$default")
        client.send("x" * (32 * 1024 + 1))
        assert _closed_by_server(client).code == 1009

    assert lambdas.next_event("$disconnect")["requestContext"]["disconnectStatusCode"] == 1009
    assert lambdas.pending("$default") == 0


def test_message_over_128kb_in_small_frames_closes_with_1009(start_gateway, lambdas) -> None:
    gateway = start_gateway(lambdas.route("$default"))
    frame = "x" * (16 * 1024)

    with _connect(gateway) as client:
        client.send([frame] * 8)  # 128 KB in 16 KB frames: accepted
        assert len(lambdas.next_event("$default")["body"]) == 128 * 1024
        client.send([frame] * 8 + ["x"])
        assert _closed_by_server(client).code == 1009


def test_idle_connection_closes_with_1001_and_pings_do_not_count(start_gateway, lambdas) -> None:
    gateway = start_gateway(lambdas.route("$disconnect"), idle_timeout_s=0.5)
    opened = time.monotonic()

    with _connect(gateway) as client, pytest.raises(ConnectionClosed) as closed:
        _ping_until_closed(client)  # every ping gets its pong, yet the connection idles out

    assert 0.5 <= time.monotonic() - opened < 2
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1001, "Going away")
    disconnect = lambdas.next_event("$disconnect")["requestContext"]
    assert (disconnect["disconnectStatusCode"], disconnect["disconnectReason"]) == (1001, "Going away")


def test_data_messages_keep_a_connection_alive(start_gateway, lambdas) -> None:
    gateway = start_gateway(lambdas.route("$default"), idle_timeout_s=0.3)

    with _connect(gateway) as client:
        for _ in range(6):  # 0.6 s in all, twice the idle timeout, never 0.3 s without a message
            client.send('{"action": "heartbeat"}')
            time.sleep(0.1)
        client.ping().wait(WAIT_S)  # raises if the connection was closed


def test_connection_duration_limit_closes_with_1001(start_gateway, lambdas) -> None:
    gateway = start_gateway(lambdas.route("$default"), max_connection_s=0.5)
    opened = time.monotonic()

    with _connect(gateway) as client, pytest.raises(ConnectionClosed) as closed:
        _heartbeat_until_closed(client)

    assert 0.5 <= time.monotonic() - opened < 2
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1001


# -- lifecycle --------------------------------------------------------------------------------


def test_client_close_runs_disconnect_once_with_its_code(start_gateway, lambdas) -> None:
    gateway = start_gateway(lambdas.route("$connect"), lambdas.route("$disconnect"))
    with _connect(gateway) as client:
        connection_id = _connection_id(lambdas)
        client.close(code=4000, reason="agent restarting")
    disconnect = lambdas.next_event("$disconnect")["requestContext"]
    gateway.stop()

    assert disconnect["connectionId"] == connection_id
    assert (disconnect["disconnectStatusCode"], disconnect["disconnectReason"]) == (4000, "agent restarting")
    assert lambdas.pending("$disconnect") == 0


def test_client_leaving_during_connect_never_opens(start_gateway, lambdas) -> None:
    left = threading.Event()

    def slow_connect(event: Event) -> Any:
        left.wait(WAIT_S)
        time.sleep(0.2)  # time for the gateway to see the socket close
        return {"statusCode": 200}

    gateway = start_gateway(lambdas.route("$connect", slow_connect), lambdas.route("$disconnect"))
    with socket.create_connection(("127.0.0.1", urlsplit(gateway.url).port), timeout=WAIT_S) as raw:
        raw.sendall(
            b"GET /prod HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        connection_id = _connection_id(lambdas)
    left.set()
    management = _management(gateway.management_url)

    with pytest.raises(management.exceptions.GoneException):
        management.get_connection(ConnectionId=connection_id)
    gateway.stop()  # waits for $connect to return
    assert lambdas.pending("$disconnect") == 0


def test_stop_closes_open_connections_with_1001(start_gateway, lambdas) -> None:
    gateway = start_gateway(lambdas.route("$disconnect"))
    with _connect(gateway) as client:
        gateway.stop()
        closed = _closed_by_server(client)

    assert closed.code == 1001
    assert lambdas.next_event("$disconnect")["requestContext"]["disconnectStatusCode"] == 1001


def test_binds_only_loopback(start_gateway) -> None:
    gateway = start_gateway()
    for port in (urlsplit(gateway.url).port, urlsplit(gateway.management_url).port):
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT_S):
            pass
        # Another loopback address: refused unless the server listened on all addresses.
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.2", port), timeout=WAIT_S)


def test_handlers_run_off_the_event_loop(start_gateway, lambdas) -> None:
    release = threading.Event()
    gateway = start_gateway(
        lambdas.route("slow", lambda event: release.wait(WAIT_S)), lambdas.route("$default")
    )

    with _connect(gateway) as client:
        client.send(json.dumps({"action": "slow"}))
        lambdas.next_event("slow")
        client.send("while slow still runs")
        assert lambdas.next_event("$default")["body"] == "while slow still runs"
        release.set()
