"""run_trial: every planned run of a trial, journalled into the store as it happens.

In: a LoadedTrial and an open Store. For each planned run: apply the arm → snapshot
before → start the sampler and the load on one t0 → write every second, check the abort
rules → stop the sampler → snapshot after (a difference is an "env_changed" event) →
revert (always). Every provider step is journaled in the store before it is taken (see
runner/journal.py), so `loadtrial recover` can undo an arm after a kill; a trial does not
start on an environment left changed (unless forced). Ctrl-C stops the current run
cleanly, keeps its data, reverts, ends the trial. An arm whose apply failed and whose own
undo failed too leaves the environment in doubt and ends the trial. Out: a TrialOutcome
whose exit code follows the analysis when it is installed, else the SLOs (0 met, 1
failed, 3 aborted or interrupted, 4 environment failure).
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from rich.console import Console

from loadtrial.clock import Clock, SystemClock
from loadtrial.env import environment_key, make_provider, preflight_problems
from loadtrial.env.model import ApplyRecord, Provider
from loadtrial.errors import ExitCode, LoadtrialError, ProviderError, UserError
from loadtrial.load.model import IntervalStats, LoadPlan, LoadResult
from loadtrial.observe.model import CollectsWindow, Observer, Sample
from loadtrial.observe.sampler import Sampler
from loadtrial.runner.abort import AbortDecision, AbortWatch
from loadtrial.runner.finish import TrialOutcome, conclude
from loadtrial.runner.journal import StoreLog, refuse_unreverted, run_left_changed
from loadtrial.runner.late import LateWindow, collect_late
from loadtrial.runner.live import RunHeader, View, make_view
from loadtrial.runner.plan import (
    PlannedRun,
    describe,
    estimate_s,
    make_plan,
    provider_calls,
    run_duration_s,
)
from loadtrial.runner.snapshot import changed, take_snapshot
from loadtrial.runner.support import Interrupts, Journal, build_observers
from loadtrial.spec.convert import to_load_plan
from loadtrial.spec.loader import LoadedTrial
from loadtrial.store.model import Event
from loadtrial.store.store import Store

LoadFn = Callable[..., LoadResult]  # run_load(plan, *, start_at, on_interval, stop)


@dataclass
class _Trial:
    """The state of one running trial (local to run_trial, never global)."""

    loaded: LoadedTrial
    store: Store
    trial_id: int
    provider: Provider
    journal: Journal
    log: StoreLog
    load_plan: LoadPlan
    load_fn: LoadFn
    view: View
    clock: Clock
    interrupts: Interrupts
    lead_s: float
    env_failed: bool = False
    statuses: list[tuple[int, str]] = field(default_factory=list)
    late: list[LateWindow] = field(default_factory=list)  # windows of late observers


def _default_load_fn() -> LoadFn:
    """run_load with its workers in processes, also a single one: the runner's own threads
    (observers, store, live view) would otherwise delay the engine's sends (GIL)."""
    from loadtrial.load import run_load

    return functools.partial(run_load, processes=True)


def _lead_s(load_fn: LoadFn | None, workers: int) -> float:
    """How long before t0 the load is started: spawned workers need about a second to be
    ready (the default load_fn always spawns); a given single-worker load_fn much less."""
    return 0.5 if load_fn is not None and workers <= 1 else 2.0


def run_trial(
    loaded: LoadedTrial,
    *,
    store: Store | None,
    only_arms: Sequence[str] = (),
    dry_run: bool = False,
    live: bool = True,
    console: Console | None = None,
    load_fn: LoadFn | None = None,
    clock: Clock | None = None,
    workers: int | None = None,
    force: bool = False,
) -> TrialOutcome:
    """Run (or with `dry_run`, only print; then `store` may be None) every planned run;
    `force` runs even on an environment a killed trial left changed."""
    trial = loaded.trial
    console = console or Console(stderr=True)
    plan = make_plan(trial, only_arms)
    if dry_run:  # the plan is the command's output (stdout, unwrapped), like `loadtrial plan`
        for line in describe(trial, plan) + provider_calls(trial, plan):
            print(line)
        return TrialOutcome(None, int(ExitCode.OK), message="dry run: nothing was sent")
    if store is None:
        raise ValueError("run_trial needs a store unless dry_run is set")
    load_plan = to_load_plan(trial, workers)
    settings = trial.env.model_dump(exclude={"provider"})
    env_key = environment_key(trial.env.provider, settings)
    refuse_unreverted(store, env_key, force=force,
                      note=lambda m: console.print(f"warning: {m}", markup=False))  # fmt: skip
    _preflight(loaded, plan, settings)
    trial_id = store.create_trial(
        name=trial.name, hypothesis=trial.hypothesis, file_path=loaded.path,
        file_text=loaded.text, file_hash=loaded.sha256,
    )  # fmt: skip
    journal = Journal(store, trial_id)
    log = StoreLog(store, trial_id, env_key, trial.env.provider)
    ctx = _Trial(
        loaded, store, trial_id, make_provider(trial.env.provider, settings, journal, log),
        journal, log, load_plan, load_fn or _default_load_fn(), make_view(console, live),
        clock or SystemClock(), Interrupts(), _lead_s(load_fn, load_plan.workers),
    )  # fmt: skip
    ctx.interrupts.on_first = lambda: ctx.view.note("Ctrl-C: stopping this run, then reverting")
    run_ids = [
        store.create_run(
            trial_id,
            arm=p.arm,
            repetition=p.repetition,
            order_index=p.order_index,
            params=p.params,
            warmup_s=trial.load.warmup,
        )
        for p in plan
    ]
    try:
        with ctx.interrupts.installed():
            _run_all(ctx, plan, run_ids)
            if not ctx.interrupts.requested.is_set():
                collect_late(store, ctx.late, ctx.view.note)
    except BaseException:
        store.finish_trial(trial_id, "failed")  # the runs keep their own status and data
        raise
    finally:
        ctx.view.close()
    return conclude(ctx.store, ctx.trial_id, ctx.statuses, ctx.interrupts.count > 0,
                    ctx.env_failed)  # fmt: skip


def _preflight(loaded: LoadedTrial, plan: Sequence[PlannedRun], settings: dict[str, Any]) -> None:
    """Ask the provider for every reason its arms cannot be applied safely, before any
    change; raise one UserError listing them all."""
    trial = loaded.trial
    arms = {p.arm: p.params for p in plan}
    found = preflight_problems(trial.env.provider, settings, arms, estimate_s(trial, plan))
    if found:
        lines = [
            replace(p, file=loaded.path, line=loaded.lines.get(p.field)).render() for p in found
        ]
        raise UserError(
            f"preflight: {len(found)} problem(s), nothing was changed:\n  " + "\n  ".join(lines),
            hint="fix them, then run again",
        )


def _run_all(ctx: _Trial, plan: Sequence[PlannedRun], run_ids: Sequence[int]) -> None:
    """Each run in order; stop early on Ctrl-C or when the environment is in doubt."""
    run_s = run_duration_s(ctx.loaded.trial)
    pause = ctx.loaded.trial.pause_between_runs
    for i, (planned, run_id) in enumerate(zip(plan, run_ids, strict=True)):
        if i > 0 and pause > 0:
            ctx.interrupts.requested.wait(pause)
        if ctx.interrupts.requested.is_set() or ctx.env_failed:
            break
        left = (len(plan) - i) * run_s + (len(plan) - i - 1) * pause
        ctx.view.start_run(RunHeader(planned.arm, planned.repetition, i, len(plan), run_s, left))
        status, reason = _one_run(ctx, planned, run_id)
        ctx.statuses.append((run_id, status))
        ctx.view.end_run(status, reason)


def _one_run(ctx: _Trial, planned: PlannedRun, run_id: int) -> tuple[str, str]:
    """Apply, measure, revert one run; return its (status, reason)."""
    ctx.journal.run_id = ctx.log.run_id = run_id
    record: ApplyRecord | None = None
    status, reason = "failed", ""
    try:
        record = ctx.provider.apply(planned.params)
        before = take_snapshot(ctx.provider, ctx.loaded)
        ctx.store.add_snapshot(run_id, "before", before)
        if ctx.interrupts.requested.is_set():
            status, reason = "interrupted", "interrupted before the load started"
            return status, reason
        status, reason = _measure(ctx, run_id)
        after = take_snapshot(ctx.provider, ctx.loaded)
        ctx.store.add_snapshot(run_id, "after", after)
        _flag_changes(ctx, run_id, before, after)
    except ProviderError as exc:
        reason = exc.render()
        ctx.view.note(f"provider: {reason}")
        if record is None and run_left_changed(ctx.store, run_id):  # apply and its undo failed
            ctx.env_failed = True
    except LoadtrialError as exc:  # e.g. a target refused by the load engine: stop the trial
        reason = exc.render()
        raise
    except Exception as exc:
        reason = f"internal error: {exc!r}"
        raise
    finally:
        if record is not None:
            _revert(ctx, run_id, record)
        ctx.store.finish_run(run_id, status, reason)
    return status, reason


def _measure(ctx: _Trial, run_id: int) -> tuple[str, str]:
    """Sampler and load on one t0; every second stored; abort rules checked."""
    trial = ctx.loaded.trial
    watch = AbortWatch(trial.abort)
    stop = threading.Event()
    ctx.interrupts.stop = stop
    fired: list[AbortDecision] = []

    def on_interval(stats: IntervalStats) -> None:
        ctx.store.add_interval(run_id, stats)
        ctx.view.second(stats)
        decision = None if fired else watch.add_second(stats)
        if decision is not None:
            fired.append(decision)
            ctx.store.add_event(
                run_id, Event(decision.second + 1.0, "abort", decision.reason,
                              {"rule": decision.rule_index})
            )  # fmt: skip
            ctx.view.note(f"abort: {decision.reason}")
            stop.set()

    t0 = ctx.clock.now() + ctx.lead_s
    t0_unix = ctx.clock.wall() + ctx.lead_s
    ctx.store.start_run(run_id, started_at=t0_unix, t0=t0)
    sampler, observers = _start_sampler(ctx, run_id, t0, watch)
    try:
        result = ctx.load_fn(ctx.load_plan, start_at=t0, on_interval=on_interval, stop=stop)
    finally:
        ctx.interrupts.stop = None
        if sampler is not None:
            sampler.stop()
            _report_lost_samples(ctx, run_id, sampler.callback_errors)
    end_unix = ctx.clock.wall()
    ctx.late.extend(
        LateWindow(run_id, o, t0_unix, end_unix, t0_unix)
        for o in observers
        if isinstance(o, CollectsWindow)
    )
    for why in result.invalid_reasons:  # one event per reason: the analysis weighs each
        ctx.store.add_event(run_id, Event(0.0, "load_invalid", why, {}))
    if fired:
        return "aborted", fired[0].reason
    if result.interrupted or ctx.interrupts.requested.is_set():
        return "interrupted", "stopped by the user (Ctrl-C)"
    return "complete", ""


def _start_sampler(
    ctx: _Trial, run_id: int, t0: float, watch: AbortWatch
) -> tuple[Any, list[Observer]]:
    """Start sampling the trial's observers on t0; (None, []) when there is nothing to
    sample; else the started sampler and its observers."""

    def fault(message: str) -> None:
        ctx.store.add_event(run_id, Event(0.0, "observer_fault", message, {}))
        ctx.view.note(message)

    observers: list[Observer] = build_observers(ctx.loaded.trial, fault)
    if not observers:
        return None, []

    def on_samples(samples: list[Sample]) -> None:
        ctx.store.add_samples(run_id, samples)
        watch.add_samples(samples)

    def on_event(t_s: float, kind: str, message: str) -> None:
        ctx.store.add_event(run_id, Event(t_s, kind, message, {}))

    sampler = Sampler(observers, t0=t0, on_samples=on_samples, on_event=on_event)
    for problem in sampler.start():  # observers that did not start: say so before the load
        ctx.view.note(problem)
    return sampler, observers


def _report_lost_samples(ctx: _Trial, run_id: int, lost: int) -> None:
    """Ticks whose samples or events could not be stored (e.g. a full disk) are said, not
    dropped silently: an event (when the store still takes one) and a note."""
    if lost <= 0:
        return
    message = f"{lost} sampler tick(s) could not be stored; those samples are missing"
    ctx.view.note(message)
    with contextlib.suppress(LoadtrialError):  # the store is what failed: the note said it
        ctx.store.add_event(run_id, Event(0.0, "samples_lost", message, {"ticks": lost}))


def _flag_changes(ctx: _Trial, run_id: int, before: dict[str, str], after: dict[str, str]) -> None:
    """An "env_changed" event when the facts after the run differ from those before."""
    diff = changed(before, after)
    if diff:
        keys = ", ".join(diff)
        ctx.store.add_event(
            run_id, Event(run_duration_s(ctx.loaded.trial), "env_changed",
                          f"the environment changed during the run: {keys}", {"changed": diff})
        )  # fmt: skip
        ctx.view.note(f"environment changed during the run: {keys}")


def _revert(ctx: _Trial, run_id: int, record: ApplyRecord) -> None:
    """Undo the arm; a failed revert leaves the environment unknown and ends the trial."""
    try:
        ctx.provider.revert(record)
    except ProviderError as exc:
        ctx.env_failed = True
        ctx.store.add_event(run_id, Event(0.0, "revert_failed", exc.render(), {}))
        ctx.view.note(f"revert failed: {exc.render()} (the environment is left as it is)")
