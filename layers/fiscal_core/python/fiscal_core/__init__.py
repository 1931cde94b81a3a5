"""FiscalMix's domain library: identifiers, documents, storage adapters and protocol clients.

Every Lambda function imports it from the fiscal_core layer; nothing here depends on a handler.
"""
