"""Fixtures every test package shares: the session's SoftHSM token (tests/softhsm.py)."""

from tests.softhsm import softhsm as softhsm
from tests.softhsm import token as token
