"""One construct per domain (data, api, ...) and the shared FiscalFunction."""
