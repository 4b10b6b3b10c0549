"""Data files of a load: CSV rows handed out circular, random or unique.

In: a `DataSource` (name, CSV path, pick) and this engine's share (worker, workers).
Out: a `DataSet` whose `pick()` returns the next row (column → value). `unique` hands each
row out once over the whole run (worker w takes rows w, w+W, ...) and raises
`DataExhausted` when its rows are used up, naming the data set and the count: a run that
needs more unique users than the file has must say so, not reuse one.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Mapping
from pathlib import Path

from loadtrial.load.model import DataSource


class DataExhausted(Exception):
    """A `pick: unique` data set has no row left."""


def read_rows(path: str) -> tuple[tuple[str, ...], list[dict[str, str]]]:
    """Return (columns, rows) of a CSV file with a header line (OSError if unreadable)."""
    with Path(path).open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = [dict(r) for r in reader]
        return tuple(reader.fieldnames or ()), rows


class DataSet:
    """One data file's rows and where this engine is in them."""

    __slots__ = ("at", "pick_mode", "rng", "rows", "source", "step")

    def __init__(self, source: DataSource, *, worker: int = 0, workers: int = 1) -> None:
        _, self.rows = read_rows(source.path)
        if not self.rows:
            raise DataExhausted(f"data {source.name}: {source.path} has no rows")
        self.source, self.pick_mode = source, source.pick
        self.at, self.step = worker, max(1, workers)
        self.rng = random.Random(worker)

    def pick(self) -> Mapping[str, str]:
        """Return the next row by the data set's pick rule."""
        if self.pick_mode == "random":
            return self.rows[self.rng.randrange(len(self.rows))]
        at = self.at
        self.at += self.step
        if self.pick_mode == "unique":
            if at >= len(self.rows):
                src = self.source
                raise DataExhausted(
                    f"data {src.name}: all {len(self.rows)} rows of {src.path} are used "
                    "(pick: unique); add rows or use pick: circular"
                )
            return self.rows[at]
        return self.rows[at % len(self.rows)]
