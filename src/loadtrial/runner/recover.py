"""recover: replay the undo steps a trial left pending, after a kill or a failed revert.

In: the Store and, optionally, a trial id (default: every trial with pending undos). For
each such trial, newest first: its provider is rebuilt from the trial file kept in the
store, and each pending entry's undo is run through the provider's own `revert`, newest
first; each replay is itself journaled (the entry settles `reverted` or `revert_failed`).
Out: a `Recovery` per trial: what was undone, what failed, the steps that were in flight
when the process died, and the facts read back afterwards. Safe to run twice: a second run
finds nothing pending; an undo interrupted half-way stays pending and is replayed whole
(every provider's undo brings things to the state recorded, whatever state they are in).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from loadtrial.env import environment_key, make_provider
from loadtrial.env.model import INTENDED, Action, ApplyRecord, Provider
from loadtrial.errors import LoadtrialError, ProviderError, UserError
from loadtrial.runner.journal import StoreLog
from loadtrial.runner.support import Journal
from loadtrial.spec.loader import parse_trial_text
from loadtrial.store.model import JournalEntry
from loadtrial.store.store import Store


@dataclass(frozen=True)
class Recovery:
    """What `recover` did for one trial."""

    trial_id: int
    env_key: str
    undone: tuple[str, ...] = ()  # names of the entries whose undo ran
    failed: tuple[str, ...] = ()  # "name: error"
    in_flight: tuple[str, ...] = ()  # steps intended and never settled: where it stopped
    facts: Mapping[str, str] = field(default_factory=dict)  # read back afterwards

    @property
    def ok(self) -> bool:
        """True when every pending undo ran."""
        return not self.failed


def recover(
    store: Store, trial_id: int | None = None, note: Callable[[str], None] = lambda _: None
) -> list[Recovery]:
    """Replay every pending undo (of `trial_id`, or of all trials); [] when none is."""
    pending = store.journal_entries(trial_id=trial_id, pending_only=True)
    trials = sorted({e.trial_id for e in pending}, reverse=True)
    for tid in trials:
        if store.trial_alive(tid):
            raise UserError(
                f"trial {tid} is still running in a live loadtrial process",
                hint="stop it with Ctrl-C (it reverts its arm); recover is for a process "
                "that is gone",
            )
    return [
        _recover_trial(store, tid, [e for e in pending if e.trial_id == tid], note)
        for tid in trials
    ]


def _provider(
    store: Store, trial_id: int, entries: Sequence[JournalEntry]
) -> tuple[Provider, StoreLog, Journal]:
    """The trial's provider, rebuilt from its stored file, journaling into the store."""
    info = next(t for t in store.list_trials() if t.trial_id == trial_id)
    trial = parse_trial_text(info.file_text, info.file_path or "<stored>", check=False).trial
    settings = trial.env.model_dump(exclude={"provider"})
    key = entries[0].env_key
    here = environment_key(trial.env.provider, settings)
    if here != key:  # e.g. a relative cwd or state path, read from another folder
        raise UserError(
            f"trial {trial_id} changed {key}, but its settings name {here} from here",
            hint="run `loadtrial recover` from the folder the trial was run in",
        )
    log = StoreLog(store, trial_id, key, trial.env.provider)
    sink = Journal(store, trial_id)
    return make_provider(trial.env.provider, settings, sink, log), log, sink


def _recover_trial(
    store: Store, trial_id: int, pending: Sequence[JournalEntry], note: Callable[[str], None]
) -> Recovery:
    """Replay `pending` (one trial's) newest first; keep going past a failure."""
    every = store.journal_entries(trial_id=trial_id)
    in_flight = tuple(e.name for e in every if e.state == INTENDED and not e.undo)
    for name in in_flight:
        note(f"trial {trial_id}: the process stopped during: {name}")
    provider, log, sink = _provider(store, trial_id, pending)
    started = time.time()
    undone: list[str] = []
    failed: list[str] = []
    for entry in reversed(pending):
        log.run_id = sink.run_id = entry.run_id
        note(f"trial {trial_id}: undo {entry.name}")
        try:
            provider.revert(ApplyRecord({}, entry.undo, journal=(entry.entry_id,)))
        except (LoadtrialError, OSError) as exc:
            failed.append(f"{entry.name}: {exc}")
            note(f"trial {trial_id}: undo failed: {exc}")
        else:
            undone.append(entry.name)
    sink.run_id = None
    status = "failed" if failed else "ok"
    sink(Action(f"recover: {len(undone)} of {len(pending)} undo step(s) replayed", started,
                time.time(), status, "; ".join(failed)))  # fmt: skip
    return Recovery(trial_id, pending[0].env_key, tuple(undone), tuple(failed), in_flight,
                    _facts(provider))  # fmt: skip


def _facts(provider: Provider) -> dict[str, str]:
    """The facts read back after recovery (a failure to read them becomes a fact)."""
    try:
        return {str(k): str(v) for k, v in provider.snapshot().items()}
    except (ProviderError, OSError) as exc:
        return {"provider.error": str(exc)}
