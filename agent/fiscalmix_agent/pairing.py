"""Pairing: the agent earns its long-lived credential from a one-time code a person types in the app.

The agent makes up both secrets itself: an 8-character pairing code from an alphabet without
look-alikes (no 0/O, 1/I/L), shown with its QR code, and a 256-bit credential that never leaves
this machine except in the ``Authorization`` header of its own connections. It connects to the
bridge with ``?pairing_code=CODE`` and ``Authorization: Bearer <credential>``; the bridge's
``$connect`` records a pending pairing (the SHA-256 of the code and of the credential, the
connection id, an expiry 10 minutes on). When a user with rights on the company enters the code
in the app, the cloud binds the credential's hash to the company and posts ``paired`` to this
connection; the agent saves its configuration, answers ``response`` ok and is done. The cloud
stores only hashes: a database leak gives no one a usable credential.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from fiscalmix_agent.client import Backoff, Timing, bridge_url, open_bridge
from fiscalmix_agent.errors import AgentError, AuthenticationRefused, PairingFailed
from fiscalmix_agent.protocol import (
    Action,
    Invalid,
    Paired,
    encode,
    new_id,
    now_iso,
    parse,
    response_error,
    response_ok,
)

logger = logging.getLogger(__name__)

CODE_ALPHABET: Final = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH: Final = 8
CODE_LIFETIME_S: Final = 600.0  # the bridge expires a pairing code after 10 minutes
CREDENTIAL_PREFIX: Final = "fmxa_"


class NotPaired(AgentError):
    """A request arrived on a connection that is still waiting to be paired."""

    code = "not_paired"


def new_pairing_code() -> str:
    """A one-time code like ``K7QH3MZP``: 31^8 ≈ 8.5e11 possibilities, alive 10 minutes."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def new_credential() -> str:
    """The agent's secret: ``fmxa_`` and 256 random bits, URL-safe base64."""
    return CREDENTIAL_PREFIX + secrets.token_urlsafe(32)


def credential_hash(secret: str) -> str:
    """What the cloud stores and compares: SHA-256 hex of the UTF-8 text (codes and credentials).

    A fast hash is enough: both are random with far more entropy than any password guess.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class PairingResult:
    """What pairing produced: the cloud's word and the credential to keep."""

    paired: Paired
    credential: str = field(repr=False)


async def pair(
    server: str,
    code: str,
    credential: str,
    save: Callable[[PairingResult], None],
    *,
    timing: Timing | None = None,
    lifetime_s: float = CODE_LIFETIME_S,
) -> PairingResult:
    """Wait (up to the code's lifetime) for the cloud to accept ``code``; ``save`` before answering.

    Reconnects with backoff if the connection drops meanwhile, with the same code and credential.
    Raises PairingFailed when the code expires or the bridge refuses it.
    """
    clock = timing or Timing()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + lifetime_s
    backoff = Backoff(clock.backoff_base_s, clock.backoff_max_s)
    url = bridge_url(server, {"pairing_code": code})
    while loop.time() < deadline:
        try:
            async with open_bridge(url, credential, clock) as socket:
                outcome = await _wait_for_pairing(socket, credential, save, clock, deadline)
                if outcome is not None:
                    return outcome
        except AuthenticationRefused as exc:
            raise PairingFailed(
                "The bridge refused the pairing code (already used, expired or malformed). Run "
                "`fiscalmix-agent pair` again for a new code."
            ) from exc
        except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed) as exc:
            logger.warning("pairing connection failed or dropped: %s", exc or type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.sleep(backoff.next_delay()), max(0.0, deadline - loop.time()))
    raise PairingFailed(
        f"Nobody entered the code {code} in the FiscalMix app within {lifetime_s / 60:.0f} minutes, "
        "so it expired. Run `fiscalmix-agent pair` again for a new code."
    )


async def _wait_for_pairing(
    socket: ClientConnection,
    credential: str,
    save: Callable[[PairingResult], None],
    timing: Timing,
    deadline: float,
) -> PairingResult | None:
    """Serve one pairing connection; the result once paired, None when the code's time ran out."""
    loop = asyncio.get_running_loop()
    next_heartbeat = loop.time() + timing.heartbeat_s
    while (now := loop.time()) < deadline:
        if now >= next_heartbeat:
            beat = {"action": Action.HEARTBEAT.value, "id": new_id(), "sent_at": now_iso(), "pairing": True}
            await socket.send(encode(beat))
            next_heartbeat = now + timing.heartbeat_s
        try:
            raw = await asyncio.wait_for(socket.recv(), min(deadline, next_heartbeat) - now)
        except TimeoutError:
            continue
        message = parse(raw)
        if isinstance(message, Paired):
            result = PairingResult(message, credential)
            save(result)
            await socket.send(encode(response_ok(message.id, agent_id=message.agent_id)))
            await socket.close(1000, "paired")
            return result
        if isinstance(message, Invalid):
            await socket.send(encode(response_error(message.id, message.error)))
        elif message.id is not None:
            await socket.send(encode(response_error(message.id, NotPaired("the agent is not paired yet"))))
    return None
