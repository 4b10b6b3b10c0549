"""The `aws` provider: apply an arm to EC2/ALB/Aurora, revert it, snapshot the facts.

In: parsed settings, an ActionSink, the undo journal (StepLog), boto3 Clients and a Clock.
Out: `ApplyRecord` whose `undo` is a list of steps that restore every original value in
reverse order, and whose `journal` holds one entry per step (same order). Each undo step is
written to the journal *before* the change it undoes, so `loadtrial recover` can replay it
after a kill; every undo looks at what is before acting, so replaying one twice is safe.
`apply` undoes its own partial work before raising (also on Ctrl-C); `revert` keeps going
past a failing step so everything it can restore is restored, then reports what it could not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from loadtrial.clock import Clock
from loadtrial.env.aws import aurora, ec2, elb, facts, pool, safety
from loadtrial.env.aws.clients import Clients
from loadtrial.env.aws.context import Ctx, explain
from loadtrial.env.aws.settings import ArmParams, AwsSettings, parse_params
from loadtrial.env.aws.waiting import Journal, Waiter
from loadtrial.env.model import (
    DONE,
    FAILED,
    REVERT_FAILED,
    REVERTED,
    ActionSink,
    ApplyRecord,
    Facts,
    StepLog,
)
from loadtrial.errors import LoadtrialError, ProviderError

UndoStep = dict[str, Any]


class AwsProvider:
    """Applies app_instance_type, app_node_count and db_instance_class; see docs/aws.md."""

    def __init__(
        self,
        settings: AwsSettings,
        sink: ActionSink,
        log: StepLog,
        *,
        clients: Clients,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._sink = sink
        self._log = log
        self._clients = clients
        self._clock = clock

    def _ctx(self) -> Ctx:
        waits = self._settings.waits
        return Ctx(
            self._clients,
            self._settings,
            Waiter(self._clock, waits.poll_s, waits.timeout_s),
            Journal(self._sink, self._clock, self._log),
        )

    def apply(self, params: Mapping[str, Any]) -> ApplyRecord:
        """Bring AWS to `params`; on any failure undo what was done, then raise."""
        arm, problems = parse_params(params, "arm")
        if problems:
            raise ProviderError("; ".join(p.render() for p in problems))
        ctx = self._ctx()
        undo = _Undo(self._log)
        try:
            self._check_managed(ctx, arm)
            if arm.app_instance_type is not None or arm.app_node_count is not None:
                self._apply_app(ctx, arm, undo)
            if arm.db_instance_class is not None:
                self._apply_db(ctx, arm.db_instance_class, undo)
        except BaseException as exc:
            undo.settle(FAILED, f"{type(exc).__name__}: {exc}")
            failures = self._undo(ctx, undo.steps, undo.entries)
            raise _apply_failed(exc, failures) from exc
        undo.settle(DONE)
        return ApplyRecord(
            dict(params), {"steps": undo.steps}, tuple(ctx.journal.actions), tuple(undo.entries)
        )

    def revert(self, record: ApplyRecord) -> None:
        """Restore every original value in `record`, in reverse order."""
        ctx = self._ctx()
        failures = self._undo(ctx, list(record.undo.get("steps", [])), list(record.journal))
        if failures:
            raise ProviderError(
                "revert could not restore everything: " + "; ".join(failures),
                hint="check these resources in the AWS console",
            )

    def snapshot(self) -> Facts:
        """Read the facts in force now; AWS errors become ProviderError."""
        try:
            return facts.snapshot(self._ctx())
        except LoadtrialError:
            raise
        except Exception as exc:
            raise ProviderError(
                f"reading the AWS facts failed: {explain(exc)}",
                hint="check credentials, region and IAM permissions (docs/aws.md)",
            ) from exc

    def _check_managed(self, ctx: Ctx, arm: ArmParams) -> None:
        bad: list[str] = []
        if arm.app_instance_type is not None or arm.app_node_count is not None:
            bad += safety.unmanaged_instances(ctx, ec2.pool_ids(ctx))
            bad += safety.unmanaged_target_group(ctx, ctx.app.target_group_arn)
            if ctx.app.route53 is not None and arm.app_instance_type is not None:
                bad += safety.unmanaged_zone(ctx, ctx.app.route53.zone_id)
        if arm.db_instance_class is not None:
            cluster = aurora.describe_cluster(ctx)
            arns = [str(aurora.describe_instance(ctx, m)["DBInstanceArn"]) for m in cluster.members]
            bad += safety.unmanaged_db(ctx, cluster.arn, arns)
        safety.require_managed(ctx, bad)

    def _apply_app(self, ctx: Ctx, arm: ArmParams, undo: _Undo) -> None:
        ids = ec2.pool_ids(ctx)
        now = pool.read_state(ctx, ids)
        if arm.app_node_count is not None and arm.app_node_count > len(ids):
            raise ProviderError(
                f"app_node_count {arm.app_node_count} exceeds the pool of {len(ids)} instances"
            )
        want = pool.target_state(ctx, ids, now, arm.app_instance_type, arm.app_node_count)
        ec2.check_offered(ctx, want.types)  # a typo or missing type stops no instance
        if ctx.app.drain_delay_s is not None:
            undo.append({"kind": "drain_delay", "value": elb.drain_delay(ctx)})
            elb.set_drain_delay(ctx, str(round(ctx.app.drain_delay_s)))
        undo.append({"kind": "app", "ids": list(ids), **now.to_json()})
        pool.converge(ctx, ids, want, ctx.app.rolling)

    def _apply_db(self, ctx: Ctx, wanted: str, undo: _Undo) -> None:
        cluster = aurora.wait_cluster(ctx)
        member = aurora.member(ctx, cluster)
        old_class = str(aurora.describe_instance(ctx, member).get("DBInstanceClass", ""))
        undo.append({"kind": "db_writer", "writer": cluster.writer})
        undo.append({"kind": "db_class", "instance": member, "class": old_class})
        aurora.set_class(ctx, member, wanted)
        after = aurora.read_roles(ctx, cluster.writer)
        if after.writer != cluster.writer and ctx.db.keep_writer:
            aurora.ensure_writer(ctx, cluster.writer)

    def _undo(self, ctx: Ctx, steps: Sequence[UndoStep], entries: Sequence[int]) -> list[str]:
        """Run undo steps last-first, settling each one's journal entry; return a message
        per step that failed."""
        failures: list[str] = []
        for step, entry in reversed(list(zip(steps, entries, strict=True))):
            try:
                with ctx.journal.step(f"revert {step['kind']}", **step):
                    self._undo_one(ctx, step)
            except Exception as exc:
                self._log.settle(entry, REVERT_FAILED, f"{type(exc).__name__}: {exc}")
                failures.append(f"{step['kind']}: {exc}")
            else:
                self._log.settle(entry, REVERTED)
        return failures

    def _undo_one(self, ctx: Ctx, step: UndoStep) -> None:
        kind = step["kind"]
        if kind == "drain_delay":
            elb.set_drain_delay(ctx, str(step["value"]))
        elif kind == "app":
            want = pool.PoolState(step["types"], step["registered"], step.get("running", {}))
            pool.converge(ctx, step["ids"], want, rolling=True, undoing=True)
        elif kind == "db_class":
            aurora.set_class(ctx, str(step["instance"]), str(step["class"]))
        elif kind == "db_writer" and step["writer"]:
            aurora.ensure_writer(ctx, str(step["writer"]))


class _Undo:
    """The undo steps of one apply, each journaled (intended) before its change is made."""

    def __init__(self, log: StepLog) -> None:
        self._log = log
        self.steps: list[UndoStep] = []
        self.entries: list[int] = []

    def append(self, step: UndoStep) -> None:
        """Journal `step` (as {"steps": [step]}, what `revert` takes) and keep it."""
        self.entries.append(self._log.intend(f"aws {_describe(step)}", {"steps": [step]}))
        self.steps.append(step)

    def settle(self, state: str, error: str = "") -> None:
        """Settle every entry of this apply (done, or failed before its undo runs)."""
        for entry in self.entries:
            self._log.settle(entry, state, error)


def _describe(step: UndoStep) -> str:
    """What an undo step will restore, in a few words (the journal entry's name)."""
    kind = step["kind"]
    if kind == "app":
        types = ", ".join(f"{i}={t}" for i, t in step["types"].items())
        return f"app pool: restore {types} and registration on undo"
    if kind == "db_class":
        return f"db {step['instance']}: restore class {step['class']} on undo"
    if kind == "db_writer":
        return f"db: make {step['writer']} writer again on undo"
    return f"{kind}: restore {step.get('value')} on undo"


def _apply_failed(exc: BaseException, undo_failures: list[str]) -> BaseException:
    """Return the exception to raise for a failed apply, saying what the undo did."""
    if not isinstance(exc, Exception):  # Ctrl-C / SystemExit: re-raise as is, undo done
        return exc
    reason = exc.message if isinstance(exc, LoadtrialError) else explain(exc)
    hint = exc.hint if isinstance(exc, LoadtrialError) else ""
    if undo_failures:
        return ProviderError(
            f"applying the arm failed ({reason}); revert also failed: {'; '.join(undo_failures)}",
            hint="check these resources in the AWS console",
        )
    return ProviderError(f"applying the arm failed ({reason}); every change was reverted", hint)
