"""The persistent undo journal in the store, and `run`'s refusal of a changed environment.

In: the open Store, the trial (and, per run, the run id), the provider's name and the
environment key. Out: `StoreLog`, the StepLog a provider writes each step to before taking
it; `refuse_unreverted`, which stops a new trial on an environment that a killed process
left changed (its pending undos) unless forced; `run_left_changed`, whether a run's arm
stayed applied after its own revert failed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from loadtrial.errors import ProviderError
from loadtrial.store.model import JournalEntry
from loadtrial.store.store import Store


class StoreLog:
    """A StepLog that writes every entry to the store at once (committed, so a SIGKILL a
    moment later keeps it); `run_id` follows the runner's current run."""

    def __init__(self, store: Store, trial_id: int, env_key: str, provider: str) -> None:
        self.store = store
        self.trial_id = trial_id
        self.env_key = env_key
        self.provider = provider
        self.run_id: int | None = None

    def intend(self, name: str, undo: Mapping[str, Any] | None = None) -> int:
        """Write a step about to be taken (and how to undo it); return the entry id."""
        return self.store.journal_intend(
            self.trial_id, self.run_id, env_key=self.env_key, provider=self.provider,
            name=name, undo=undo or {},
        )  # fmt: skip

    def settle(self, entry: int, state: str, error: str = "") -> None:
        """Write what became of the entry."""
        self.store.journal_settle(entry, state, error)


def _trials(entries: tuple[JournalEntry, ...]) -> list[int]:
    return sorted({e.trial_id for e in entries})


def refuse_unreverted(
    store: Store, env_key: str, *, force: bool, note: Callable[[str], None]
) -> None:
    """Raise ProviderError when `env_key` has undo steps still pending (a process died
    before reverting, or a revert failed), naming them and how to recover; with `force`,
    only say so. A trial still running on the environment is refused even with `force`."""
    pending = store.journal_entries(env_key=env_key, pending_only=True)
    if not pending:
        return
    trials = _trials(pending)
    live = [t for t in trials if store.trial_alive(t)]
    if live:
        raise ProviderError(
            f"trial {live[0]} is running on this environment ({env_key}) now",
            hint="wait for it to finish, or stop it (Ctrl-C reverts its arm)",
        )
    steps = "; ".join(f"{e.name} [{e.state}]" for e in pending[-3:])
    ids = " ".join(str(t) for t in trials)
    message = (
        f"the environment {env_key} was left changed by trial {ids}: {len(pending)} undo "
        f"step(s) pending ({steps})"
    )
    if force:
        note(f"{message}; running anyway (--force)")
        return
    raise ProviderError(
        message,
        hint=f"run `loadtrial recover {trials[-1]}` to undo them first, or `loadtrial run "
        "--force` to run on the environment as it is",
    )


def run_left_changed(store: Store, run_id: int) -> bool:
    """True when undo steps of `run_id` are still pending (its revert failed)."""
    return bool(store.journal_entries(run_id=run_id, pending_only=True))
