"""Per-request figures in the store: round trip, export, and older stores still readable."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from loadtrial.load import histogram
from loadtrial.load.model import IntervalStats
from loadtrial.store import Store
from loadtrial.store.export import run_summary, run_to_json
from loadtrial.store.schema import SCHEMA_VERSION


def _hist(*values_us: int) -> bytes:
    return histogram.encode(histogram.from_values_us(list(values_us)))


def _second(k: int) -> IntervalStats:
    browse = IntervalStats(k, offered=2, sent=2, completed=2, ok=2, latency_hist=_hist(1000, 2000),
                           uncorrected_hist=_hist(1000, 2000))  # fmt: skip
    pay = IntervalStats(k, offered=1, sent=1, completed=1, errors={"check:status": 1},
                        latency_hist=_hist(9000), uncorrected_hist=_hist(9000))  # fmt: skip
    return IntervalStats(k, offered=3, sent=3, completed=3, ok=2, errors={"check:status": 1},
                         latency_hist=_hist(1000, 2000, 9000), requests={"browse": browse,
                         "pay": pay})  # fmt: skip


def test_per_request_parts_round_trip_and_export(tmp_path: Path) -> None:
    with Store(tmp_path / "r.db") as store:
        tid = store.create_trial(name="t")
        rid = store.create_run(tid, arm="a", repetition=1, order_index=0, params={})
        for k in range(3):
            store.add_interval(rid, _second(k))
        run = store.load_run(rid)
    assert [s.requests for s in run.seconds] == [_second(k).requests for k in range(3)]
    summary = run_summary(run)
    assert list(summary["requests"]) == ["browse", "pay"]
    assert summary["requests"]["pay"]["errors"] == {"check:status": 3}
    assert summary["requests"]["browse"]["completed"] == 6
    assert summary["requests"]["pay"]["latency_us"]["p99"] >= 9000
    assert run_to_json(run)["seconds"][0]["requests"]["pay"]["errors"] == {"check:status": 1}


def test_a_store_from_before_per_request_figures_opens_and_reads(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with Store(path) as store:
        tid = store.create_trial(name="old")
        rid = store.create_run(tid, arm="a", repetition=1, order_index=0, params={})
        store.add_interval(rid, IntervalStats(0, offered=1, sent=1, completed=1, ok=1))
    conn = sqlite3.connect(path)  # make it what version 2 wrote: no request_seconds table
    with conn:
        conn.execute("DROP TABLE request_seconds")
        conn.execute("UPDATE meta SET value='2' WHERE key='schema_version'")
    conn.close()
    with Store(path) as store:
        run = store.load_run(rid)
        store.add_interval(rid, _second(1))  # and it takes new per-request rows
        again = store.load_run(rid)
    assert run.seconds[0].completed == 1 and run.seconds[0].requests == {}
    assert set(again.seconds[1].requests) == {"browse", "pay"}
    conn = sqlite3.connect(path)
    version = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
    conn.close()
    assert int(version) == SCHEMA_VERSION == 3
