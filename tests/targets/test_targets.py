"""The tiny targets answer as their kind says (checked with the standard library client)."""

from __future__ import annotations

import http.client
import time

import pytest

from loadtrial.targets import (
    TargetConfig,
    closed_port_url,
    freeze_remaining_s,
    start_target_process,
    start_target_thread,
)


def _get(port: int, path: str = "/", timeout: float = 5.0) -> tuple[int, bytes, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.monotonic()
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read(), time.monotonic() - started
    finally:
        conn.close()


def test_fast_status_and_delay_paths() -> None:
    with start_target_thread(TargetConfig("fast")) as t:
        assert _get(t.port)[:2] == (200, b"ok")
        assert _get(t.port, "/status/503")[0] == 503
        status, _, took = _get(t.port, "/delay/150")
        assert status == 200 and took >= 0.14
    with start_target_thread(TargetConfig("status", status=429)) as t:
        assert _get(t.port)[0] == 429


def test_delay_kind_and_keep_alive() -> None:
    with start_target_thread(TargetConfig("delay", delay_s=0.1)) as t:
        conn = http.client.HTTPConnection("127.0.0.1", t.port, timeout=5)
        for _ in range(2):  # two requests on one connection
            started = time.monotonic()
            conn.request("GET", "/")
            assert conn.getresponse().read() == b"ok"
            assert time.monotonic() - started >= 0.09
        conn.close()


def test_reset_and_refused() -> None:
    with (
        start_target_thread(TargetConfig("reset")) as t,
        pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)),
    ):
        _get(t.port)
    port = int(closed_port_url().rsplit(":", 1)[1].rstrip("/"))
    with pytest.raises(ConnectionRefusedError):
        _get(port)


def test_freeze_windows() -> None:
    cfg = TargetConfig("freeze", period_s=10.0, freeze_s=2.0, offset_s=1.0)
    assert freeze_remaining_s(cfg, 100.0, 100.5) == 0.0
    assert freeze_remaining_s(cfg, 100.0, 101.5) == pytest.approx(1.5)
    assert freeze_remaining_s(cfg, 100.0, 113.0) == 0.0
    assert freeze_remaining_s(cfg, 100.0, 111.25) == pytest.approx(1.75)
    now = time.monotonic()
    live = TargetConfig("freeze", epoch=now, offset_s=0.0, freeze_s=0.4, period_s=100.0)
    with start_target_thread(live) as t:
        status, _, took = _get(t.port)
        assert status == 200 and took >= 0.4 - (time.monotonic() - now) - 0.05
        time.sleep(max(0.0, now + 0.45 - time.monotonic()))
        assert _get(t.port)[2] < 0.3  # after the freeze: about 1 ms (loose for a busy box)


@pytest.mark.timeout(60)
def test_target_in_a_child_process() -> None:
    target = start_target_process(TargetConfig("fast"))
    try:
        assert target.pid is not None
        assert _get(target.port)[:2] == (200, b"ok")
    finally:
        target.stop()
    with pytest.raises(ConnectionRefusedError):
        _get(target.port)


def test_cli_help_names_every_kind() -> None:
    from loadtrial.commands.load import TARGET_KINDS
    from loadtrial.targets import KINDS

    assert ", ".join(KINDS) == TARGET_KINDS
