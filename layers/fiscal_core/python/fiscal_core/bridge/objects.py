"""The bridge's edge to S3 (calls, replies, presigned links) and to Step Functions (task tokens)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import cached_property
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from fiscal_core.bridge.calls import (
    AgentCall,
    AgentReply,
    call_body_key,
    call_key,
    certificate_der_key,
    reply_body_key,
    reply_key,
)
from fiscal_core.bridge.errors import BridgeUnavailable, RequestNotDispatchable
from fiscal_core.observability import logger

OCTET_STREAM: Final = "application/octet-stream"
_MISSING: Final = frozenset({"NoSuchKey", "404", "NotFound"})
# The task was already completed, timed out, or its execution ended: nobody waits any more.
_TOKEN_GONE: Final = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})


class CallStore:
    """Calls and replies under ``{account}/{company}/agent/{request}/`` in the documents bucket."""

    def __init__(self, s3: Callable[[], Any], bucket: str, link_seconds: int) -> None:
        self._s3_factory = s3
        self._bucket = bucket
        self._link_seconds = link_seconds

    @cached_property
    def _s3(self) -> Any:
        return self._s3_factory()

    def load_call(self, account_id: str, company_id: str, request_id: str) -> AgentCall:
        """The call the sync wrote; RequestNotDispatchable when it is missing or unreadable."""
        key = call_key(account_id, company_id, request_id)
        data = self._get(key)
        if data is None:
            raise RequestNotDispatchable(f"agent request {request_id} has no call.json")
        try:
            return AgentCall.model_validate_json(data)
        except ValidationError as exc:
            raise RequestNotDispatchable(f"agent request {request_id}: call.json is invalid") from exc

    def body_link(self, account_id: str, company_id: str, request_id: str) -> str | None:
        """A presigned GET of ``call.body`` when the sync stored one, else None."""
        key = call_body_key(account_id, company_id, request_id)
        if self._size(key) is None:
            return None
        return self._link("get_object", {"Bucket": self._bucket, "Key": key})

    def upload_link(self, account_id: str, company_id: str, request_id: str) -> str:
        """A presigned PUT for ``reply.body``, for an answer too large for a message."""
        key = reply_body_key(account_id, company_id, request_id)
        return self._link("put_object", {"Bucket": self._bucket, "Key": key, "ContentType": OCTET_STREAM})

    def uploaded_body_matches(
        self, account_id: str, company_id: str, request_id: str, size: int, sha256: str
    ) -> bool:
        """Whether ``reply.body`` is there with the size and SHA-256 the agent reported."""
        data = self._get(reply_body_key(account_id, company_id, request_id))
        return data is not None and len(data) == size and hashlib.sha256(data).hexdigest() == sha256

    def put_reply_body(self, account_id: str, company_id: str, request_id: str, body: bytes) -> None:
        """Store an answer body that came inline but is larger than a reply.json should hold."""
        self._put(reply_body_key(account_id, company_id, request_id), body, OCTET_STREAM)

    def put_certificate(self, account_id: str, company_id: str, certificate_id: str, der: bytes) -> str:
        """Keep an A3 certificate's DER where the sync reads it; its key."""
        key = certificate_der_key(account_id, company_id, certificate_id)
        self._put(key, der, "application/pkix-cert")
        return key

    def put_reply(self, account_id: str, company_id: str, reply: AgentReply) -> None:
        """Write ``reply.json``."""
        data = reply.model_dump_json().encode()
        self._put(reply_key(account_id, company_id, reply.request_id), data, "application/json")

    def _link(self, operation: str, params: dict[str, str]) -> str:
        try:
            url: str = self._s3.generate_presigned_url(operation, Params=params, ExpiresIn=self._link_seconds)
        except (BotoCoreError, ClientError) as exc:
            raise BridgeUnavailable(f"could not sign an S3 link: {exc}") from exc
        return url

    def _get(self, key: str) -> bytes | None:
        try:
            data: bytes = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise BridgeUnavailable(f"could not read {key.rsplit('/', 1)[-1]}: {_code(exc)}") from exc
        except BotoCoreError as exc:
            raise BridgeUnavailable(f"could not read {key.rsplit('/', 1)[-1]}: {exc}") from exc
        return data

    def _size(self, key: str) -> int | None:
        try:
            return int(self._s3.head_object(Bucket=self._bucket, Key=key)["ContentLength"])
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise BridgeUnavailable(f"could not look for {key.rsplit('/', 1)[-1]}: {_code(exc)}") from exc
        except BotoCoreError as exc:
            raise BridgeUnavailable(f"could not look for {key.rsplit('/', 1)[-1]}: {exc}") from exc

    def _put(self, key: str, data: bytes, content_type: str) -> None:
        try:
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=data, ContentType=content_type)
        except (BotoCoreError, ClientError) as exc:
            raise BridgeUnavailable(f"could not write {key.rsplit('/', 1)[-1]}: {exc}") from exc


class TaskTokens:
    """Completes the workflow's ``.waitForTaskToken`` tasks."""

    def __init__(self, sfn: Callable[[], Any]) -> None:
        self._sfn_factory = sfn

    @cached_property
    def _sfn(self) -> Any:
        return self._sfn_factory()

    def succeed(self, task_token: str, output: dict[str, Any]) -> bool:
        """SendTaskSuccess; False when nobody waits on the token any more (timed out, stopped)."""
        try:
            self._sfn.send_task_success(taskToken=task_token, output=json.dumps(output))
        except ClientError as exc:
            if _code(exc) in _TOKEN_GONE:
                logger.warning("the workflow no longer waits for this answer", extra={"reason": _code(exc)})
                return False
            raise BridgeUnavailable(f"could not complete the workflow's task: {_code(exc)}") from exc
        except BotoCoreError as exc:
            raise BridgeUnavailable(f"could not complete the workflow's task: {exc}") from exc
        return True


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "unknown"))
