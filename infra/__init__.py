"""FiscalMix's CDK app: one construct per domain, composed into one stack per stage."""
