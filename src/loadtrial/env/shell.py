"""The `shell` provider: an arm is applied and reverted by shell commands you write.

In (the trial's `env:`):

    env:
      provider: shell
      apply: "echo {delay_ms} > /tmp/delay"     # one command or a list; {param} templated
      revert: "rm -f /tmp/delay"                 # run after every run, also on Ctrl-C/abort
      facts:                                     # name -> command; stdout becomes the fact
        server.delay: "cat /tmp/delay"
      timeout: 30s                               # per command (default 60s)
      cwd: .                                     # working directory of the commands

An arm may set its own `apply` / `revert` (overriding the shared ones); its other
parameters fill the `{name}` templates (shell-quoted) and are exported as `LT_<NAME>`.
Out: every command becomes an Action (command, exit status, output tail) sent to the sink;
`snapshot()` returns the facts read back by the `facts:` commands. Journal: before the
first apply command, one entry holds the arm's filled-in revert commands (its undo); each
command is an entry of its own, intended before it runs. So after a kill at any point,
`loadtrial recover` runs those revert commands: write them so that running them on a
half-applied (or already reverted) system is harmless, e.g. `rm -f`, `kill ... || true`.
Commands run with /bin/sh in their own session, so a Ctrl-C meant for loadtrial does not
kill a revert half-way, and a command that overruns its timeout is killed with all it started.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import string
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from loadtrial.env.journal import undone
from loadtrial.env.model import (
    DONE,
    FAILED,
    Action,
    ActionSink,
    ApplyRecord,
    Facts,
    Provider,
    StepLog,
)
from loadtrial.env.settings import ShellEnv
from loadtrial.errors import Problem, ProviderError

RESERVED_PARAMS = ("apply", "revert")


@dataclass(frozen=True)
class ShellSettings:
    """The validated `env:` settings of the shell provider, as it runs them (the defaults
    are the model's, env.settings.ShellEnv)."""

    apply: tuple[str, ...]
    revert: tuple[str, ...]
    facts: tuple[tuple[str, str], ...]
    timeout_s: float
    cwd: str | None


def _commands(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def parse_settings(settings: Mapping[str, Any] | ShellEnv) -> ShellSettings:
    """Return ShellSettings from the `env:` model (or its dump, as the doors other than
    `create` hand it over; assumes `problems` found none)."""
    env = (
        settings
        if isinstance(settings, ShellEnv)
        else ShellEnv.model_validate({**settings, "provider": "shell"})
    )
    return ShellSettings(
        apply=_commands(env.apply),
        revert=_commands(env.revert),
        facts=tuple((env.facts or {}).items()),
        timeout_s=env.timeout,
        cwd=env.cwd,
    )


def render(template: str, params: Mapping[str, Any]) -> str:
    """Fill `{name}` fields of a command with shell-quoted parameter values."""
    values = {k: shlex.quote(str(v)) for k, v in params.items() if k not in RESERVED_PARAMS}
    return template.format_map(values)


def param_env(params: Mapping[str, Any]) -> dict[str, str]:
    """Environment variables LT_<NAME> for each (non-reserved) parameter."""
    return {
        "LT_" + re.sub(r"[^A-Za-z0-9]", "_", k).upper(): str(v)
        for k, v in params.items()
        if k not in RESERVED_PARAMS
    }


@dataclass(frozen=True)
class CommandResult:
    """What one command did."""

    command: str
    exit_code: int | None  # None: it did not finish (timeout) or could not start
    stdout: str
    stderr: str
    started_at: float  # Unix time
    ended_at: float
    error: str = ""

    @property
    def ok(self) -> bool:
        """True when the command exited with status 0."""
        return self.exit_code == 0


def run_command(
    command: str, timeout_s: float, cwd: str | None, env: Mapping[str, str]
) -> CommandResult:
    """Run `command` with /bin/sh; kill its process group when it overruns `timeout_s`."""
    started = time.time()
    full_env = {**os.environ, **env}
    try:
        proc = subprocess.Popen(
            command,
            shell=True,
            cwd=cwd,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    except OSError as exc:
        return CommandResult(command, None, "", "", started, time.time(), f"cannot start: {exc}")
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        message = f"timed out after {timeout_s:g}s"
        return CommandResult(command, None, out, err, started, time.time(), message)
    finally:
        if proc.poll() is None:  # interrupted while waiting: do not leave it behind
            _kill_group(proc)
            proc.communicate()
    error = "" if proc.returncode == 0 else f"exit status {proc.returncode}: {err.strip()[-300:]}"
    return CommandResult(command, proc.returncode, out, err, started, time.time(), error)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    """Kill the command and every process it started."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


class ShellProvider:
    """Runs the configured commands; every command is journalled through the sink."""

    def __init__(self, settings: ShellSettings, sink: ActionSink, log: StepLog) -> None:
        self._settings = settings
        self._sink = sink
        self._log = log

    def _run(self, phase: str, command: str, env: Mapping[str, str]) -> Action:
        """Run one command, journaled before (intended) and after; return its Action."""
        entry = self._log.intend(f"{phase}: {command}")
        result = run_command(command, self._settings.timeout_s, self._settings.cwd, env)
        action = _action(f"{phase}: {command}", result)
        self._log.settle(entry, DONE if action.status == "ok" else FAILED, action.error)
        self._sink(action)
        return action

    def apply(self, params: Mapping[str, Any]) -> ApplyRecord:
        """Run the arm's apply commands; on a failure undo and raise ProviderError."""
        env = param_env(params)
        applies = _commands(params["apply"]) if "apply" in params else self._settings.apply
        reverts = _commands(params["revert"]) if "revert" in params else self._settings.revert
        # no revert commands: nothing can be undone, so nothing is left pending either
        undo = {"revert": [render(c, params) for c in reverts], "env": env} if reverts else {}
        arm = self._log.intend(f"shell arm {_label(params)}", undo)
        done: list[Action] = []
        for template in applies:
            action = self._run("apply", render(template, params), env)
            done.append(action)
            if action.status != "ok":
                self._log.settle(arm, FAILED, action.error)
                self.revert(ApplyRecord(dict(params), undo, tuple(done), (arm,)))
                raise ProviderError(f"shell apply failed: {action.error}", "check the command")
        self._log.settle(arm, DONE)
        return ApplyRecord(dict(params), undo, tuple(done), (arm,))

    def revert(self, record: ApplyRecord) -> None:
        """Run every revert command (all of them, even after a failure); raise at the end.
        The journal entries of `record` are settled reverted, or revert_failed."""
        undone(self._log, record.journal, lambda: self._revert(record.undo))

    def _revert(self, undo: Mapping[str, Any]) -> None:
        env = dict(undo.get("env", {}))
        failed = [
            a for a in (self._run("revert", c, env) for c in undo.get("revert", ()))
            if a.status != "ok"
        ]  # fmt: skip
        if failed:
            raise ProviderError(f"shell revert failed: {failed[0].error}", "check the command")

    def snapshot(self) -> Facts:
        """Run each facts command; its trimmed stdout is the fact (an error is marked)."""
        facts: dict[str, str] = {}
        for name, command in self._settings.facts:
            result = run_command(command, self._settings.timeout_s, self._settings.cwd, {})
            if result.ok:
                facts[name] = result.stdout.strip()
            else:
                facts[name] = f"<error: {result.error}>"
                self._sink(_action(f"fact {name}: {command}", result))
        return facts


def _label(params: Mapping[str, Any]) -> str:
    """The arm's parameters as `k=v, ...` (the commands themselves are entries of their own)."""
    shown = ", ".join(f"{k}={v}" for k, v in params.items() if k not in RESERVED_PARAMS)
    return shown or "(no parameters)"


def _action(name: str, result: CommandResult) -> Action:
    return Action(
        name=name,
        started_at=result.started_at,
        ended_at=result.ended_at,
        status="ok" if result.ok else "failed",
        error=result.error,
        detail={
            "exit_code": result.exit_code,
            "stdout": result.stdout[-2000:],
            "stderr": result.stderr[-2000:],
        },
    )


def plan_calls(settings: Mapping[str, Any], params: Mapping[str, Any]) -> list[str]:
    """The commands an arm would run (for `run --dry-run`), filled in, without running them."""
    shared = parse_settings(settings)
    applies = _commands(params["apply"]) if "apply" in params else shared.apply
    reverts = _commands(params["revert"]) if "revert" in params else shared.revert
    return [f"apply: {render(c, params)}" for c in applies] + [
        f"revert: {render(c, params)}" for c in reverts
    ]


def create(settings: ShellEnv, sink: ActionSink, log: StepLog) -> Provider:
    """Return a shell provider for the trial's `env:` settings."""
    return ShellProvider(parse_settings(settings), sink, log)


def env_key(settings: Mapping[str, Any]) -> str:
    """The commands' working directory names a shell environment (what else they touch
    cannot be known): `shell:<absolute cwd>`."""
    cwd = settings.get("cwd")
    return "shell:" + os.path.abspath(str(cwd) if cwd is not None else os.getcwd())


def problems(settings: Mapping[str, Any], arms: Mapping[str, Mapping[str, Any]]) -> list[Problem]:
    """Every problem with each arm's template parameters (the settings' shape is checked
    by their model, `env.settings.ShellEnv`)."""
    out: list[Problem] = []
    shared = parse_settings(settings)
    for arm, params in arms.items():
        out += _arm_problems(arm, params, shared)
    return out


def _is_commands(value: Any) -> bool:
    return isinstance(value, str) or (
        isinstance(value, Sequence) and all(isinstance(v, str) for v in value)
    )


def _arm_problems(arm: str, params: Mapping[str, Any], shared: ShellSettings) -> list[Problem]:
    """Template fields an arm's commands use but the arm does not set."""
    out: list[Problem] = []
    for key in RESERVED_PARAMS:
        if key in params and not _is_commands(params[key]):
            out.append(Problem(f"arms.{arm}.{key}", "expected a command or a list of commands", ""))
    if out:
        return out
    templates = (
        _commands(params["apply"]) if "apply" in params else shared.apply,
        _commands(params["revert"]) if "revert" in params else shared.revert,
    )
    for key, commands in zip(RESERVED_PARAMS, templates, strict=True):
        for command in commands:
            for field in _fields(command):
                if field not in params or field in RESERVED_PARAMS:
                    out.append(
                        Problem(
                            f"arms.{arm}",
                            f"the {key} command uses {{{field}}} but arm {arm!r} does not set it",
                            f"add {field}: ... to the arm, or write {{{{ }}}} for a literal brace",
                        )
                    )
    return out


def _fields(template: str) -> list[str]:
    try:
        return [f for _, f, _, _ in string.Formatter().parse(template) if f]
    except ValueError:
        return ["<unbalanced brace>"]
