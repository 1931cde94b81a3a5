"""What can go wrong on the bridge, in words an operator (or the sync's user) can act on."""

from __future__ import annotations

from fiscal_core.errors import FiscalMixError


class BridgeError(FiscalMixError):
    """A bridge operation did not happen."""


class BridgeUnavailable(BridgeError):
    """API Gateway's @connections API, S3 or Step Functions refused or did not answer: retry."""


class RequestNotDispatchable(BridgeError):
    """The dispatch task was given a request that does not exist or does not match its call."""
