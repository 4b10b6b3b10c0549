"""SSM Run Command: re-run the app's configuration on instances after they start.

In: Ctx with env.app.config_commands and the instances to configure. Out: one journal step
that sends AWS-RunShellScript and waits until every invocation succeeded; a failed or
timed-out invocation raises ProviderError with the command's stderr.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from loadtrial.env.aws.context import Ctx, error_code
from loadtrial.errors import ProviderError

_DONE = {"Success", "Failed", "Cancelled", "TimedOut", "Cancelling"}


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
    commands = list(ctx.app.config_commands)
    if not commands or not ids:
        return
    with ctx.journal.step(f"ssm run config commands on {', '.join(ids)}", commands=commands):
        sent = ctx.clients.ssm.send_command(
            InstanceIds=list(ids),
            DocumentName="AWS-RunShellScript",
            Parameters={"commands": commands},
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
