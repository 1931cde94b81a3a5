"""Cryptography FiscalMix does itself: KMS envelope encryption of certificate material."""
