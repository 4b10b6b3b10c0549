"""SSM Run Command: re-run the app's configuration on instances after they start.

In: Ctx with env.app.config_commands and the instances to configure. Out: one journal step
per batch of at most 50 instances (SendCommand's limit) that sends AWS-RunShellScript with
a delivery timeout and an execution timeout (so an offline agent or a hung command ends
as `TimedOut` on AWS's side too) and waits until every invocation finished; a failed or
timed-out invocation raises ProviderError with the command's stderr.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from loadtrial.env.aws.context import Ctx, batches, error_code
from loadtrial.errors import ProviderError

_DONE = {"Success", "Failed", "Cancelled", "TimedOut", "Cancelling"}
SEND_LIMIT = 50  # instance ids per SendCommand
MIN_DELIVERY_S = 30  # SendCommand's TimeoutSeconds may not be lower


def _invocations(ctx: Ctx, command_id: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for iid in ids:
        try:
            inv = ctx.clients.ssm.get_command_invocation(CommandId=command_id, InstanceId=iid)
        except Exception as exc:
            if error_code(exc) != "InvocationDoesNotExist":  # not yet visible: keep polling
                raise
            continue
        found[iid] = dict(inv)
    return found


def run_config(ctx: Ctx, ids: Sequence[str]) -> None:
    """Run env.app.config_commands on `ids` through SSM and wait for them."""
    if not ctx.app.config_commands:
        return
    for batch in batches(ids, SEND_LIMIT):
        _run_batch(ctx, batch)


def _run_batch(ctx: Ctx, ids: Sequence[str]) -> None:
    commands = list(ctx.app.config_commands)
    timeout_s = max(MIN_DELIVERY_S, round(ctx.waiter.timeout_s))
    with ctx.journal.step(f"ssm run config commands on {', '.join(ids)}", commands=commands):
        sent = ctx.clients.ssm.send_command(
            InstanceIds=list(ids),
            DocumentName="AWS-RunShellScript",
            Parameters={"commands": commands, "executionTimeout": [str(timeout_s)]},
            TimeoutSeconds=timeout_s,
        )
        command_id = sent["Command"]["CommandId"]
        result = ctx.waiter.until(
            f"ssm command {command_id} to finish",
            lambda: _invocations(ctx, command_id, ids),
            lambda inv: len(inv) == len(ids) and all(v["Status"] in _DONE for v in inv.values()),
        )
        failed = {i: v for i, v in result.items() if v["Status"] != "Success"}
        if failed:
            detail = "; ".join(
                f"{i}: {v['Status']} {v.get('StandardErrorContent', '')[:200]}"
                for i, v in failed.items()
            )
            raise ProviderError(f"config commands failed: {detail}", hint="see the SSM console")
