"""The DF-e sync: one page at a time from SEFAZ or the ADN into S3 and DynamoDB, by NSU cursor."""
