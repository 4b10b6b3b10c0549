"""The results store: round trips of every record, crash safety, schema versioning."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from loadtrial.env.model import Action
from loadtrial.errors import ExitCode, StoreError
from loadtrial.findings import Finding, SloEvidence
from loadtrial.load import histogram
from loadtrial.load.model import IntervalStats
from loadtrial.observe.model import Sample
from loadtrial.store import Event, Store
from loadtrial.store.export import run_to_csv


def _trial(store: Store) -> int:
    return store.create_trial(name="t", hypothesis="h", file_text="a: ${X}", file_hash="abc")


def test_round_trip_of_every_record(tmp_path: Path) -> None:
    hist = histogram.encode(histogram.from_values_us([1000, 2000, 3000]))
    with Store(tmp_path / "r.db") as store:
        tid = _trial(store)
        rid = store.create_run(
            tid, arm="a", repetition=1, order_index=0, params={"n": 2}, warmup_s=1
        )
        store.start_run(rid, started_at=1.7e9, t0=5.0)
        store.add_interval(
            rid,
            IntervalStats(
                0, offered=3, sent=3, completed=3, ok=2, errors={"http_502": 1}, latency_hist=hist
            ),
        )
        store.add_interval(rid, IntervalStats(1, offered=1))
        store.add_samples(
            rid,
            [
                Sample(0.5, "db.conn", 3, "count", 10),
                Sample(1.5, "db.conn", 9, "count", 20),
                Sample(1.0, "app.cpu", 50.0, "percent"),
            ],
        )
        store.add_event(rid, Event(1.0, "abort", "too many errors", {"rule": 0}))
        store.add_action(tid, rid, Action("apply", 1.0, 2.0, "ok", detail={"cmd": "true"}))
        store.add_snapshot(rid, "before", {"db.writer": "db-1"})
        store.finish_run(rid, "aborted", "too many errors")
        met = SloEvidence(10, 0, 0.0, 5.0, 2.0, ((99.0, 3000.0),), None, ())
        store.save_findings(tid, [Finding("slo", "run 1", "p99 met", "pass", met)])
        store.finish_trial(tid, "complete")
        data = store.load_trial(tid)
        assert store.latest_trial_id() == tid
        assert store.load_findings(tid)[0].evidence == met  # p99_us 3000 comes back
    run = data.runs[0]
    assert data.info.file_text == "a: ${X}" and data.info.status == "complete"
    assert run.info.status == "aborted" and run.info.params == {"n": 2} and run.info.warmup_s == 1
    assert [s.second for s in run.seconds] == [0, 1]
    assert run.seconds[0].errors == {"http_502": 1}
    assert histogram.decode(run.seconds[0].latency_hist).get_total_count() == 3
    by_name = {s.name: s for s in run.series}
    assert by_name["db.conn"].values.tolist() == [3, 9] and by_name["db.conn"].capacity == 20
    assert by_name["app.cpu"].capacity is None and by_name["app.cpu"].tier == "app"
    assert run.snapshots == {"before": {"db.writer": "db-1"}}
    assert run.events[0].data == {"rule": 0} and run.actions[0].detail == {"cmd": "true"}


def test_unknown_ids_raise_store_error(tmp_path: Path) -> None:
    with Store(tmp_path / "r.db") as store:
        assert store.latest_trial_id() is None
        with pytest.raises(StoreError, match="no run 7") as info:
            store.load_run(7)
        assert info.value.exit_code == ExitCode.INVALID_INPUT  # the user's mistake: exit 2
        with pytest.raises(StoreError, match="no trial 7"):
            store.load_trial(7)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        Store(path)


_WRITER = textwrap.dedent(
    """
    import sys, time
    from loadtrial.load.model import IntervalStats
    from loadtrial.store import Store
    store = Store(sys.argv[1])
    tid = store.create_trial(name="killed")
    rid = store.create_run(tid, arm="a", repetition=1, order_index=0, params={})
    store.start_run(rid, started_at=time.time())
    for second in range(1000):
        store.add_interval(rid, IntervalStats(second, offered=second))
        print(second, flush=True)
        time.sleep(0.01)
    """
)


def test_sigkill_keeps_seconds_and_next_open_marks_incomplete(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    args = [sys.executable, "-c", _WRITER, str(path)]
    with subprocess.Popen(args, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            written = [int(proc.stdout.readline()) for _ in range(5)]
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    time.sleep(0.05)
    with Store(path) as store:
        trial = store.load_trial(store.latest_trial_id() or 0)
    run = trial.runs[0]
    assert run.info.status == "incomplete" and trial.info.status == "incomplete"
    assert [s.second for s in run.seconds][: len(written)] == written


def test_csv_export_keeps_every_digit_of_a_sample(tmp_path: Path) -> None:
    with Store(tmp_path / "r.db") as store:
        tid = store.create_trial(name="csv")
        rid = store.create_run(tid, arm="a", repetition=1, order_index=0, params={})
        store.add_interval(rid, IntervalStats(0, offered=1, sent=1, completed=1, ok=1))
        store.add_samples(rid, [Sample(0.5, "app.memory.rss_bytes", 177_349_632.0, "bytes")])
        store.add_samples(rid, [Sample(0.5, "db.cpu.util", 0.12345, "ratio", 1.0)])
        rows = run_to_csv(store.load_run(rid)).splitlines()
    header, first = rows[0].split(","), rows[1].split(",")
    assert first[header.index("app.memory.rss_bytes")] == "177349632"
    assert first[header.index("db.cpu.util")] == "0.12345"
