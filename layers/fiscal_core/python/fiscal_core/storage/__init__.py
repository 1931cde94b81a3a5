"""DynamoDB storage: models, table specs, and the repositories above which nothing else
touches PynamoDB or botocore."""
