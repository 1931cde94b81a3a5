"""The embedded default: the whole of FiscalMix on one machine, with no AWS account and no Docker."""
