"""Requests for agents: dispatched by a real Step Functions task (``.waitForTaskToken`` in moto),
served by the real agent on its SoftHSM token, answered back into the workflow; and refused
wherever they must be."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from websockets.sync.client import connect

from fiscal_core.bridge.calls import (
    AgentCall,
    AgentReply,
    CallAction,
    b64,
    call_key,
    reply_body_key,
    reply_key,
)
from fiscal_core.bridge.runtime import Bridge
from fiscal_core.bridge.sender import DispatchTask, Outcome
from fiscal_core.sefaz.environments import Service, local_environment
from fiscal_core.settings import get_settings
from fiscal_core.storage.agents import RequestStatus
from fiscalmix_agent.tls import HttpResponse
from local.aws import LOCAL_ACCOUNT
from local.system import LocalSystem
from tests.agent.bridge import AgentThread, wait_for
from tests.integration.api.client import Api, Users
from tests.integration.bridge.conftest import Tenant, new_tenant, paired_agent
from tests.softhsm import SoftToken

WAIT_S = 20.0


def fingerprint(token: SoftToken) -> str:
    return token.certificate.fingerprint(hashes.SHA256()).hex()


def new_call(
    system: LocalSystem, bridge: Bridge, tenant: Tenant, token: SoftToken, **fields: Any
) -> AgentCall:
    """An AgentCall written where the sync writes it, and its PENDING request."""
    request_id = uuid.uuid4().hex
    assert system.sefaz is not None
    defaults: dict[str, Any] = {
        "action": CallAction.SEFAZ_REQUEST, "method": "POST",
        "url": local_environment(system.sefaz.url).url(Service.NFE_DISTRIBUICAO),
        "headers": {"Content-Type": "application/soap+xml; charset=utf-8"}, "body_b64": b64(b"<soap/>"),
    }  # fmt: skip
    call = AgentCall(
        request_id=request_id, account_id=tenant.account_id, company_id=tenant.company_id,
        certificate_id="cert", fingerprint=fingerprint(token), created_at=datetime.now(UTC), digest="d",
        **(defaults | fields),
    )  # fmt: skip
    system.aws.client("s3").put_object(
        Bucket=get_settings().documents_bucket,
        Key=call_key(tenant.account_id, tenant.company_id, request_id),
        Body=call.model_dump_json().encode(),
    )
    bridge.requests.create(
        tenant.account_id,
        request_id,
        tenant.company_id,
        "cert",
        call.action.value,
        fingerprint=call.fingerprint,
    )
    return call


def sign_call(
    system: LocalSystem, bridge: Bridge, tenant: Tenant, token: SoftToken, signed_info: bytes
) -> AgentCall:
    """A sign_xml call of the canonical ``signed_info``."""
    return new_call(
        system, bridge, tenant, token, action=CallAction.SIGN_XML, method=None, url=None, headers={},
        body_b64=None, signed_info_b64=b64(signed_info),
    )  # fmt: skip


def read_object(system: LocalSystem, key: str) -> bytes | None:
    s3 = system.aws.client("s3")
    try:
        data: bytes = s3.get_object(Bucket=get_settings().documents_bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return data


def reply_of(system: LocalSystem, call: AgentCall) -> AgentReply | None:
    data = read_object(system, reply_key(call.account_id, call.company_id, call.request_id))
    return None if data is None else AgentReply.model_validate_json(data)


class Workflow:
    """A one-state machine in moto: the dispatch Lambda invoked with ``.waitForTaskToken``."""

    def __init__(self, system: LocalSystem) -> None:
        self._sfn = system.aws.client("stepfunctions")
        (dispatch,) = [
            f.name
            for f in system.stack.functions.values()
            if f.handler_path.endswith("dispatch.lambda_handler")
        ]
        definition = {
            "StartAt": "AskAgent",
            "States": {
                "AskAgent": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                    "Parameters": {
                        "FunctionName": dispatch,
                        "Payload": {
                            "account_id.$": "$.account_id",
                            "company_id.$": "$.company_id",
                            "request_id.$": "$.request_id",
                            "task_token.$": "$$.Task.Token",
                        },
                    },
                    "TimeoutSeconds": 60,
                    "End": True,
                }
            },
        }
        self.arn = self._sfn.create_state_machine(
            name=f"ask-agent-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition),
            roleArn=f"arn:aws:iam::{LOCAL_ACCOUNT}:role/ask-agent",
        )["stateMachineArn"]  # fmt: skip

    def start(self, call: AgentCall) -> str:
        task = {"account_id": call.account_id, "company_id": call.company_id, "request_id": call.request_id}
        arn: str = self._sfn.start_execution(
            stateMachineArn=self.arn, name=call.request_id, input=json.dumps(task)
        )["executionArn"]
        return arn

    def result(self, execution_arn: str, timeout: float = WAIT_S) -> Mapping[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            described = self._sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                assert described["status"] == "SUCCEEDED", described
                output: Mapping[str, Any] = json.loads(described["output"])
                return output
            assert time.monotonic() < deadline, "the execution did not finish"
            time.sleep(0.05)


@pytest.fixture(scope="module")
def workflow(system: LocalSystem) -> Workflow:
    return Workflow(system)


class LargeAnswer:
    """A stand-in for the agent's HTTPS client: answers every exchange with 200 KB."""

    body = bytes(range(256)) * 800

    def request(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str],
        *,
        read_timeout: float | None = None,
    ) -> HttpResponse:
        return HttpResponse(200, {"content-type": "application/octet-stream"}, self.body)


def test_a_request_goes_through_the_workflow_the_agent_and_back(
    api: Api, ws_url: str, bridge: Bridge, system: LocalSystem, tenant: Tenant, token: SoftToken,
    workflow: Workflow, run_agent: Callable[..., AgentThread],
) -> None:  # fmt: skip
    _, credential = paired_agent(api, ws_url, bridge, tenant)
    run_agent(credential)
    wait_for(
        lambda: bridge.dispatcher.candidates(tenant.account_id, tenant.company_id, fingerprint(token)) != []
    )
    call = new_call(system, bridge, tenant, token)
    output = workflow.result(workflow.start(call))
    assert output == {"request_id": call.request_id, "ok": True}
    reply = reply_of(system, call)
    assert reply is not None and reply.ok and reply.error is None
    # The agent made the exchange with the SEFAZ simulator over mutual TLS: any status is an answer.
    assert reply.status is not None and reply.body_b64 is not None and base64.b64decode(reply.body_b64)
    assert bridge.requests.get(tenant.account_id, call.request_id).status == RequestStatus.SUCCEEDED


def test_a_large_answer_comes_through_the_upload_link(
    api: Api, ws_url: str, bridge: Bridge, system: LocalSystem, tenant: Tenant, token: SoftToken,
    workflow: Workflow, run_agent: Callable[..., AgentThread],
) -> None:  # fmt: skip
    _, credential = paired_agent(api, ws_url, bridge, tenant)
    run_agent(credential, lambda signer: LargeAnswer())
    wait_for(
        lambda: bridge.dispatcher.candidates(tenant.account_id, tenant.company_id, fingerprint(token)) != []
    )
    call = new_call(system, bridge, tenant, token)
    assert workflow.result(workflow.start(call)) == {"request_id": call.request_id, "ok": True}
    reply = reply_of(system, call)
    assert reply is not None and reply.ok and reply.status == 200 and reply.body_b64 is None
    assert (
        read_object(system, reply_body_key(call.account_id, call.company_id, call.request_id))
        == LargeAnswer.body
    )


def test_an_offline_agent_leaves_the_request_waiting_and_its_hello_sends_it(
    api: Api, ws_url: str, bridge: Bridge, system: LocalSystem, tenant: Tenant, token: SoftToken,
    workflow: Workflow, run_agent: Callable[..., AgentThread],
) -> None:  # fmt: skip
    _, credential = paired_agent(api, ws_url, bridge, tenant)
    call = sign_call(system, bridge, tenant, token, b"<SignedInfo/>")
    execution = workflow.start(call)
    wait_for(lambda: bridge.requests.get(tenant.account_id, call.request_id).status == RequestStatus.WAITING)
    run_agent(credential)  # its hello finds the request waiting
    assert workflow.result(execution) == {"request_id": call.request_id, "ok": False}
    reply = reply_of(system, call)
    # The agent refuses to sign what is not a SignedInfo: its failure reaches the sync as an answer.
    assert (
        reply is not None and not reply.ok and reply.error is not None and reply.error.code == "bad_request"
    )


def test_an_agent_never_receives_another_accounts_requests(
    api: Api, users: Users, ws_url: str, bridge: Bridge, system: LocalSystem, tenant: Tenant,
    token: SoftToken, run_agent: Callable[..., AgentThread],
) -> None:  # fmt: skip
    _, credential = paired_agent(api, ws_url, bridge, tenant)
    run_agent(credential)
    wait_for(
        lambda: bridge.dispatcher.candidates(tenant.account_id, tenant.company_id, fingerprint(token)) != []
    )
    # Another account's company has the same CNPJ and the same certificate fingerprint.
    other = new_tenant(api, users)
    call = new_call(system, bridge, other, token)
    outcome = bridge.dispatcher.dispatch(
        DispatchTask(other.account_id, other.company_id, call.request_id, "token-b")
    )
    assert outcome is Outcome.WAITING
    request = bridge.requests.get(other.account_id, call.request_id)
    assert request.status == RequestStatus.WAITING and request.agent_id is None
    time.sleep(0.5)
    assert reply_of(system, call) is None


def test_an_answer_for_a_request_the_agent_was_not_sent_is_refused(
    api: Api, ws_url: str, bridge: Bridge, system: LocalSystem, tenant: Tenant, token: SoftToken
) -> None:
    _, credential = paired_agent(api, ws_url, bridge, tenant)
    waiting = new_call(system, bridge, tenant, token)
    bridge.requests.mark_waiting(tenant.account_id, waiting.request_id, tenant.company_id, "token")
    with connect(
        ws_url, additional_headers={"Authorization": f"Bearer {credential}"}, open_timeout=10
    ) as socket:
        hello = {"action": "hello", "id": "h1", "protocol": 1, "agent_version": "9.9", "machine": {},
                 "token": {"ready": True}, "certificates": []}  # fmt: skip
        socket.send(json.dumps(hello))
        for request_id in (waiting.request_id, "no-such-request"):
            socket.send(
                json.dumps({"action": "response", "id": request_id, "ok": True, "status": 200, "body": ""})
            )
            note = json.loads(socket.recv(timeout=WAIT_S))
            assert "action" not in note and "id" not in note
            assert note["error"]["code"] == "refused" and note["in_reply_to"] == request_id
        socket.send("not json")
        assert json.loads(socket.recv(timeout=WAIT_S))["error"]["code"] == "bad_request"
        socket.send(json.dumps({"action": "sign_xml", "id": "x"}))
        assert json.loads(socket.recv(timeout=WAIT_S))["error"]["code"] == "unknown_action"
    assert bridge.requests.get(tenant.account_id, waiting.request_id).status == RequestStatus.WAITING
    assert reply_of(system, waiting) is None


def test_a_post_to_a_gone_connection_deletes_that_connection(
    api: Api, ws_url: str, bridge: Bridge, system: LocalSystem, tenant: Tenant, token: SoftToken
) -> None:
    agent_id, _ = paired_agent(api, ws_url, bridge, tenant)
    # The item of a connection whose $disconnect never came (the gateway answers 410 for it).
    bridge.connections.put(tenant.account_id, agent_id, "gone-connection", [tenant.company_id])
    stale = bridge.connections.for_agent(tenant.account_id, agent_id)
    assert stale is not None
    bridge.connections.hello(
        stale, agent_version="0.1.0", machine="x", fingerprints=[fingerprint(token)], token_ready=True
    )
    call = new_call(system, bridge, tenant, token)
    outcome = bridge.dispatcher.dispatch(
        DispatchTask(tenant.account_id, tenant.company_id, call.request_id, "t")
    )
    assert outcome is Outcome.WAITING
    assert bridge.connections.for_agent(tenant.account_id, agent_id) is None
    assert bridge.requests.get(tenant.account_id, call.request_id).status == RequestStatus.WAITING


def test_signing_requests_reach_the_token(
    api: Api, ws_url: str, bridge: Bridge, system: LocalSystem, tenant: Tenant, token: SoftToken,
    workflow: Workflow, run_agent: Callable[..., AgentThread],
) -> None:  # fmt: skip
    _, credential = paired_agent(api, ws_url, bridge, tenant)
    run_agent(credential)
    wait_for(
        lambda: bridge.dispatcher.candidates(tenant.account_id, tenant.company_id, fingerprint(token)) != []
    )
    signed_info = (
        b'<SignedInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><CanonicalizationMethod '
        b'Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"></CanonicalizationMethod>'
        b'<SignatureMethod Algorithm="http://www.w3.org/2000/09/xmldsig#rsa-sha1"></SignatureMethod>'
        b'<Reference URI="#ID1"><Transforms><Transform Algorithm="http://www.w3.org/2000/09/xmldsig#'
        b'enveloped-signature"></Transform><Transform Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-'
        b'20010315"></Transform></Transforms><DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#'
        b'sha1"></DigestMethod><DigestValue>' + base64.b64encode(hashlib.sha1(b"x").digest())
        + b"</DigestValue></Reference></SignedInfo>"
    )  # fmt: skip
    call = sign_call(system, bridge, tenant, token, signed_info)
    assert workflow.result(workflow.start(call)) == {"request_id": call.request_id, "ok": True}
    reply = reply_of(system, call)
    assert reply is not None and reply.ok and reply.signature_value_b64 is not None
    key = token.certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(base64.b64decode(reply.signature_value_b64), signed_info, padding.PKCS1v15(), hashes.SHA1())
