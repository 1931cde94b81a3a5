"""The synthesized CloudFormation template, deployed into the local AWS plane.

The embedded default creates its resources from the very template ``cdk deploy`` would send to
CloudFormation, so local runs and tests exercise the same tables, queues, state machines, routes
and schedules as AWS.
"""
