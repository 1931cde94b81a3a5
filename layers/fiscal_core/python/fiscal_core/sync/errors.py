"""What can stop a sync step, in two kinds: retry it later, or stop and tell the user.

The workflow's Retry clause matches :class:`RetryableSyncError` by its name (the Lambda error's
``errorType``), with jittered backoff; anything else reaches its Catch, which runs the FAIL task.
Problems a person must fix (a certificate, a permission) are not raised at all: the step ends the
run as failed with a message that says what to do.
"""

from __future__ import annotations

from fiscal_core.errors import FiscalMixError


class RetryableSyncError(FiscalMixError):
    """A step failed for a reason that may pass (network, SEFAZ 5xx, DynamoDB throttling): retry."""


class CredentialProblem(FiscalMixError):
    """The company's certificate cannot be used; the message tells the user what to do."""


class ThroughAgentOnly(CredentialProblem):
    """The company's certificate is an A3: only a sync step, which can wait for its agent, uses it."""
