"""FiscalMix on-prem agent: the hands of the cloud next to an A3 token.

The key of an A3 certificate never leaves its token, and SEFAZ demands mutual TLS with that very
key, so this agent signs on the token and makes the SEFAZ HTTPS exchanges itself, relaying bytes
the cloud prepared. See PROTOCOL.md for the messages it exchanges with the cloud bridge.
"""

__version__ = "0.1.0"
