"""SyncConstruct: the DF-e sync workflow, its worker, the scheduled fan-out and their alarms.

The workflow is a Standard state machine that loops over one task function (the sync worker):
every task takes a ``SyncState`` and returns the next one (fiscal_core.sync.contract), and one
Choice routes on its ``next``. How long to wait is data (``$.wait_seconds``), never a constant
here, so tests and local runs use seconds while production waits what SEFAZ demands.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Final

from aws_cdk import Acknowledgment, ArnFormat, Duration, Stack, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from fiscal_core.settings import ENV_SYNC_STATE_MACHINE_ARN
from fiscal_core.storage.models import Certificate, Document, SyncCursor
from fiscal_core.sync.contract import Next, Task
from fiscal_core.sync.errors import RetryableSyncError
from infra.constructs.data import DataConstruct
from infra.constructs.function import FiscalFunction
from infra.constructs.grants import TableGrant, acknowledge_objects, arn_token, grant_tables
from infra.constructs.sefaz import sefaz_environment
from infra.stage import Stage

# What Lambda itself answers when it could not run the function: always worth another try.
LAMBDA_SERVICE_ERRORS: Final = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)
# The worker's transient failures: it raises RetryableSyncError (Lambda reports the class name
# as the error) when SEFAZ, S3 or DynamoDB did not answer this time, and a step that ran out of
# time (Sandbox.Timedout) is safe to repeat, as the page journal replays what it had received.
# Anything else (a bug, an unexpected answer) is not retried: it goes straight to the Catch.
WORKER_TRANSIENT_ERRORS: Final = (RetryableSyncError.__name__, "Sandbox.Timedout")

RETRY_INTERVAL: Final = Duration.seconds(2)
RETRY_MAX_DELAY: Final = Duration.seconds(60)
RETRY_BACKOFF_RATE: Final = 2.0
RETRY_ATTEMPTS: Final = 5
# The longest a single execution may run. Waits inside a run are short (the worker finishes the
# run instead of waiting an hour) and runs continue as new executions, so hours mean a hang.
EXECUTION_TIMEOUT: Final = Duration.hours(6)
WORKER_TIMEOUT: Final = Duration.seconds(120)
# A lot of Ciência holds 20 events: its signatures are asked of the agent together.
AGENT_CONCURRENCY: Final = 20
FANOUT_TIMEOUT: Final = Duration.seconds(300)
# Every 15 minutes, not every hour: after a caught-up answer SEFAZ allows the next query an hour
# later, plus the worker's safety margin (5 minutes), so an hourly tick always came 5 minutes
# early and a company was synced every two hours. A quarter-hour tick syncs it 65 to 80 minutes
# apart; the fan-out still starts at most one scheduled execution per company, family and hour.
SCHEDULE_EXPRESSION: Final = "rate(15 minutes)"
SCHEDULE_MAX_EVENT_AGE_SECONDS: Final = 15 * 60  # a late tick older than the next one is dropped
FANOUT_INPUT: Final = {"source": "fiscalmix.schedule"}
# The sync's own objects: fiscal_core.sync.object_keys.sync_object_key.
SYNC_NOTES: Final = "*/sync/*"
# An A3 step's calls to its agent, their answers and the token's certificate (fiscal_core.bridge.calls).
AGENT_OBJECTS: Final = "*/agent/*"
# What the worker does in each table (and index), and nothing more: pages are read with
# BatchGetItem and written with BatchWriteItem, the rest goes through the repositories.
_GET, _PUT, _UPDATE, _QUERY = "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"
_BATCH = ("dynamodb:BatchGetItem", "dynamodb:BatchWriteItem")
WORKER_TABLE_GRANTS: Final[tuple[TableGrant, ...]] = (
    ("Documents", None, (_GET, _PUT, *_BATCH)),
    # Summaries waiting for Ciência or for their full XML.
    ("Documents", Document.pending_summaries.Meta.index_name, (_QUERY,)),
    # Events stored before their document are read when it arrives.
    ("DocumentEvents", None, (_PUT, _QUERY, *_BATCH)),
    ("SyncCursors", None, (_GET, _PUT, _UPDATE)),
    ("SyncRuns", None, (_GET, _PUT, _UPDATE)),
    ("Companies", None, (_GET,)),
    ("Certificates", None, (_GET,)),
    ("Certificates", Certificate.by_company.Meta.index_name, (_QUERY,)),
    # The audit log is append-only: the worker records what it did and never edits history.
    ("AuditLogs", None, (_PUT,)),
    # Why an A3 run's agent did not answer: its agents and their connections, read only.
    ("Agents", None, (_QUERY,)),
    ("AgentConnections", None, (_QUERY,)),
    # Each new agent call gets its request item, which the bridge's dispatch task then sends.
    ("AgentRequests", None, (_GET, _PUT)),
)
# Isolated worker errors are retried by the workflow; several in a quarter hour are not noise.
WORKER_ERRORS_THRESHOLD: Final = 5


def _add_retry(task: sfn.TaskStateBase, errors: Sequence[str]) -> None:
    """Retry ``errors`` with capped exponential backoff and full jitter.

    Full jitter spreads the retries of many companies' runs that failed together (SEFAZ down
    for a minute at the top of the hour) instead of sending them back in lockstep.
    """
    task.add_retry(
        errors=list(errors),
        interval=RETRY_INTERVAL,
        backoff_rate=RETRY_BACKOFF_RATE,
        max_attempts=RETRY_ATTEMPTS,
        max_delay=RETRY_MAX_DELAY,
        jitter_strategy=sfn.JitterType.FULL,
    )


class SyncConstruct(Construct):
    """The sync worker, the state machine that drives it, the fan-out's schedule and the alarms.

    ``alarms`` are left without actions: whoever owns paging (an observability construct)
    subscribes them, so this construct does not decide where operators are woken up.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: Stage,
        layer: lambda_.ILayerVersion,
        environment: Mapping[str, str],
        data: DataConstruct,
        agent_dispatch: lambda_.Function,
    ) -> None:
        super().__init__(scope, construct_id)
        self._agent_dispatch = agent_dispatch
        self.state_machine_name = f"fiscalmix-{stage.name}-sync"
        # Built from the name rather than read from the resource: the worker, a task of the
        # workflow, starts its continuations, and a Ref would make the two depend on each other.
        self.state_machine_arn = Stack.of(self).format_arn(
            service="states",
            resource="stateMachine",
            resource_name=self.state_machine_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        # Both functions start executions: the fan-out the scheduled runs, the worker a run's
        # continuation (see _state_machine).
        environment = {**environment, ENV_SYNC_STATE_MACHINE_ARN: self.state_machine_arn}
        self.worker = FiscalFunction(
            self,
            "Worker",
            name="sync_worker",
            description="FiscalMix DF-e sync: the tasks of the sync workflow",
            stage=stage,
            layer=layer,
            # Homologação everywhere but production (a test stage never queries real notes), and
            # the ICP-Brasil roots that vouch for SEFAZ's and the ADN's servers.
            environment={**environment, **sefaz_environment(stage)},
            memory_size=512,
            timeout=WORKER_TIMEOUT,
        )
        self.fanout = FiscalFunction(
            self,
            "Fanout",
            name="sync_worker",
            handler="fanout.lambda_handler",
            description="FiscalMix DF-e sync: starts the run of every company that is due",
            stage=stage,
            layer=layer,
            environment=environment,
            timeout=FANOUT_TIMEOUT,
        )
        self.state_machine = self._state_machine(stage)
        self._grant_worker(data)
        self._grant_fanout(data)
        self.schedule = self._schedule()
        self.alarms = self._alarms()

    def _grant_worker(self, data: DataConstruct) -> None:
        role, bucket = self.worker.role, data.documents_bucket
        grant_tables(role, data, WORKER_TABLE_GRANTS)
        # XML bodies go under keys known only at run time ({account}/{company}/...); the sync's
        # own notes and page journal, under {account}/{company}/sync/, are read and removed too.
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["s3:PutObject"], resources=[bucket.arn_for_objects("*")])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:DeleteObject"],
                resources=[bucket.arn_for_objects(SYNC_NOTES), bucket.arn_for_objects(AGENT_OBJECTS)],
            )
        )
        # Without ListBucket, S3 answers a read of a missing note with 403 instead of 404.
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn])
        )
        # The bucket's SSE-KMS data keys for those writes and reads, and the unwrapping of a
        # company's certificate envelope; the worker never encrypts with the key itself.
        data.key.grant(role, "kms:GenerateDataKey", "kms:Decrypt")
        role.add_to_principal_policy(self._start_execution())
        for objects, reason in (
            ("*", "Document keys embed the account, company, type and date of each XML, known only at "
             "run time; the grant is PutObject alone, in the documents bucket alone."),
            (SYNC_NOTES, "The sync's notes and page journal of every cursor live under "
             "{account}/{company}/sync/, known only at run time; reading and removing stops there."),
            (AGENT_OBJECTS, "An A3 step's agent calls and answers live under {account}/{company}/agent/, "
             "known only at run time; the step reads the answers and removes them once used."),
        ):  # fmt: skip
            acknowledge_objects(role, bucket, objects, reason)

    def _grant_fanout(self, data: DataConstruct) -> None:
        # The fan-out reads the ``due`` index of the cursors and starts executions, nothing more.
        cursors = data.tables["SyncCursors"]
        due_index = f"{cursors.table_arn}/index/{SyncCursor.due.Meta.index_name}"
        self.fanout.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["dynamodb:Query"], resources=[due_index])
        )
        # Each due cursor is read again, consistently, to skip one whose lease is held.
        self.fanout.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["dynamodb:GetItem"], resources=[cursors.table_arn])
        )
        self.fanout.role.add_to_principal_policy(self._start_execution())

    def _start_execution(self) -> iam.PolicyStatement:
        return iam.PolicyStatement(actions=["states:StartExecution"], resources=[self.state_machine_arn])

    def _state_machine(self, stage: Stage) -> sfn.StateMachine:
        failed = sfn.Fail(self, "Failed", error="SyncFailed", cause="The sync run failed; see its record.")
        mark_failed = self._task(Task.FAIL, "MarkFailed")
        # The Fail task's own failure ends the execution: the lease then expires on its own.
        mark_failed.add_catch(failed, errors=["States.ALL"], result_path="$.error")
        fail = self._set_task(Task.FAIL).next(mark_failed.next(failed))

        start = self._task(Task.START, "Start")
        step = self._task(Task.STEP, "FetchPage")
        finish = self._task(Task.FINISH, "Finish")
        for task in (start, step, finish):
            task.add_catch(fail, errors=["States.ALL"], result_path="$.error")
        to_step = self._set_task(Task.STEP).next(step)

        route = (
            sfn.Choice(self, "Route")
            .when(sfn.Condition.string_equals("$.next", Next.FETCH.value), to_step)
            .when(
                sfn.Condition.string_equals("$.next", Next.WAIT.value),
                sfn.Wait(self, "Pause", time=sfn.WaitTime.seconds_path("$.wait_seconds")).next(to_step),
            )
            # The worker has already started the next execution with this state: moto's engine
            # (5.2.5) cannot run the states:startExecution integration (it passes ASL's "Input"
            # where boto expects "input"), and the workflow must run the same locally and in AWS.
            .when(
                sfn.Condition.string_equals("$.next", Next.CONTINUE.value),
                sfn.Succeed(self, "ContinuedAsNew"),
            )
            .when(
                sfn.Condition.string_equals("$.next", Next.FINISH.value),
                self._set_task(Task.FINISH).next(finish.next(sfn.Succeed(self, "Done"))),
            )
            .when(sfn.Condition.string_equals("$.next", Next.SKIP.value), sfn.Succeed(self, "Skipped"))
            .when(
                sfn.Condition.string_equals("$.next", Next.AGENT.value), self._ask_agent(fail).next(to_step)
            )
            # A ``next`` the workflow does not know is a bug in the worker: fail the run cleanly.
            .otherwise(fail)
        )
        start.next(route)
        step.next(route)

        log_group = logs.LogGroup(
            self, "WorkflowLogs", retention=stage.log_retention, removal_policy=stage.removal_policy
        )
        state_machine = sfn.StateMachine(
            self,
            "Workflow",
            state_machine_name=self.state_machine_name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(
                sfn.Choice(self, "NewRun")
                # A continuation arrives with its run and lease: it goes on with the next page.
                .when(
                    sfn.Condition.and_(
                        sfn.Condition.is_present("$.run_id"), sfn.Condition.is_string("$.run_id")
                    ),
                    to_step,
                )
                .otherwise(self._set_task(Task.START).next(start))
            ),
            timeout=EXECUTION_TIMEOUT,
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            removal_policy=stage.removal_policy,
        )
        self._acknowledge_workflow_role(state_machine)
        return state_machine

    def _ask_agent(self, fail: sfn.IChainable) -> sfn.Map:
        """Send an A3 step's pending calls to its agent and wait for every answer.

        One ``.waitForTaskToken`` task per call, in parallel (a lot's signatures go together);
        the bridge completes each token when the agent answers, and the step then runs again
        and finds the answers in S3. The wait is bounded by ``agent.timeout_seconds``: an agent
        that stays offline makes the run fail, and the FAIL task says since when it is offline.
        """
        ask = tasks.LambdaInvoke(
            self,
            "SendToAgent",
            lambda_function=self._agent_dispatch,
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            payload=sfn.TaskInput.from_object(
                {
                    "account_id": sfn.JsonPath.string_at("$.account_id"),
                    "company_id": sfn.JsonPath.string_at("$.company_id"),
                    "request_id": sfn.JsonPath.string_at("$.request_id"),
                    "task_token": sfn.JsonPath.task_token,
                }
            ),
            task_timeout=sfn.Timeout.at("$.timeout_seconds"),
            retry_on_service_exceptions=False,
        )
        _add_retry(ask, LAMBDA_SERVICE_ERRORS)
        calls = sfn.Map(
            self,
            "AskAgent",
            items_path="$.agent.pending",
            item_selector={
                "account_id.$": "$.account_id",
                "company_id.$": "$.company_id",
                "request_id.$": "$$.Map.Item.Value",
                "timeout_seconds.$": "$.agent.timeout_seconds",
            },
            max_concurrency=AGENT_CONCURRENCY,
            # The answers are in S3; the state goes on unchanged into the replayed step.
            result_path=sfn.JsonPath.DISCARD,
        )
        calls.item_processor(ask)
        calls.add_catch(fail, errors=["States.ALL"], result_path="$.error")
        return calls

    def _set_task(self, task: Task) -> sfn.Pass:
        """A Pass that sets ``$.task``: how the worker learns which step to run from its input.

        A task's own Parameters cannot merge a field into the whole state (an intrinsic is not
        allowed as the payload of an optimised Lambda task), so each task is entered through one.
        """
        return sfn.Pass(
            self, f"Set{task.name.title()}", result=sfn.Result.from_string(task.value), result_path="$.task"
        )

    def _task(self, task: Task, state_id: str) -> tasks.LambdaInvoke:
        """The worker invoked with the state as it is; its answer is the next state."""
        invocation = tasks.LambdaInvoke(
            self,
            state_id,
            lambda_function=self.worker.function,
            # The function's answer is the whole next state, with no Lambda envelope around it.
            payload_response_only=True,
            # Replaced by _add_retry: the same service errors, with full jitter and a cap.
            retry_on_service_exceptions=False,
        )
        _add_retry(invocation, (*LAMBDA_SERVICE_ERRORS, *WORKER_TRANSIENT_ERRORS))
        return invocation

    def _acknowledge_workflow_role(self, state_machine: sfn.StateMachine) -> None:
        Validations.of(state_machine.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="Step Functions log delivery (logs:CreateLogDelivery and friends) and X-Ray "
                "segments support no resource-level permissions, so those actions need '*'.",
            )
        )
        Validations.of(state_machine.role).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{arn_token(self.worker.function)}>:*]",
                reason="CDK grants invoking every version and alias of the sync worker (ARN:*); "
                "the grant still names that one function and no other.",
            )
        )
        Validations.of(state_machine.role).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{arn_token(self._agent_dispatch)}>:*]",
                reason="CDK grants invoking every version and alias of the bridge's dispatch task "
                "(ARN:*); the grant still names that one function and no other.",
            )
        )

    def _schedule(self) -> scheduler.CfnSchedule:
        function = self.fanout.function
        # The L1 schedule with a role of our own: the L2's role may also invoke every version
        # and alias of the function (ARN:*), which the schedule never needs.
        role = iam.Role(
            self,
            "ScheduleRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            ),
            description="EventBridge Scheduler: invokes the sync fan-out every 15 minutes",
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[function.function_arn])
        )
        return scheduler.CfnSchedule(
            self,
            "SyncSchedule",
            description="Starts the DF-e sync of every company that is due",
            schedule_expression=SCHEDULE_EXPRESSION,
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            target=scheduler.CfnSchedule.TargetProperty(
                arn=function.function_arn,
                role_arn=role.role_arn,
                input=json.dumps(FANOUT_INPUT),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_retry_attempts=2, maximum_event_age_in_seconds=SCHEDULE_MAX_EVENT_AGE_SECONDS
                ),
            ),
        )

    def _alarms(self) -> list[cloudwatch.Alarm]:
        five_minutes = Duration.minutes(5)

        def alarm(construct_id: str, metric: cloudwatch.Metric, threshold: int, why: str) -> cloudwatch.Alarm:
            return metric.create_alarm(
                self,
                construct_id,
                alarm_description=why,
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )

        return [
            alarm(
                "ExecutionsFailedAlarm",
                self.state_machine.metric_failed(period=five_minutes, statistic="Sum"),
                1,
                "A sync run failed: its record says which company and why.",
            ),
            alarm(
                "ExecutionsTimedOutAlarm",
                self.state_machine.metric_timed_out(period=five_minutes, statistic="Sum"),
                1,
                "A sync execution hung until its timeout; its lease expires on its own.",
            ),
            alarm(
                "WorkerErrorsAlarm",
                self.worker.function.metric_errors(period=Duration.minutes(15), statistic="Sum"),
                WORKER_ERRORS_THRESHOLD,
                "The sync worker keeps failing, retried errors included.",
            ),
            alarm(
                "FanoutErrorsAlarm",
                self.fanout.function.metric_errors(period=five_minutes, statistic="Sum"),
                1,
                "The sync fan-out failed: companies that were due may not have been synced.",
            ),
        ]
