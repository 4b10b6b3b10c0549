"""`loadtrial load` and `loadtrial target` through cli.main: exit codes, output, JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shop_target import running_shop

from loadtrial.cli import main
from loadtrial.commands.load import parse_stages
from loadtrial.errors import UserError
from loadtrial.load.model import Stage
from loadtrial.targets import RunningTarget, closed_port_url

SUMMARY_KEYS = {
    "target", "model", "duration_s", "completed", "ok", "offered_rate_per_s",
    "achieved_rate_per_s", "latency_ms", "uncorrected_latency_ms", "errors", "late",
    "dropped", "generator", "engine", "valid", "invalid_reasons", "partial_seconds", "seconds",
    "requests",
}  # fmt: skip
LATENCY_KEYS = {"p50", "p90", "p99", "p999", "max"}


@pytest.mark.timeout(60)
def test_rate_run_writes_exact_json(
    fast_target: RunningTarget, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "s.json"
    code = main(["load", fast_target.url, "--rate", "200", "--duration", "1s", "-o", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    s = json.loads(out.read_text())
    # a busy machine may make the generator trail its schedule: the run is then rightly
    # INVALID, so the table must agree with the JSON rather than expect a quiet machine
    verdict = "valid" if s["valid"] else "INVALID: " + s["invalid_reasons"][0][:20]
    assert "200/s achieved" in printed and verdict in printed
    assert set(s) == SUMMARY_KEYS
    assert set(s["latency_ms"]) == set(s["uncorrected_latency_ms"]) == LATENCY_KEYS
    assert set(s["generator"]) == {"cpu_percent", "max_send_lag_ms"}
    assert s["completed"] == s["ok"] == 200 and s["model"] == "open"
    assert s["seconds"][0]["offered"] >= 199 and {"p50_ms", "p99_ms"} <= set(s["seconds"][0])


@pytest.mark.timeout(60)
def test_json_flag_prints_the_summary_alone_on_stdout(
    fast_target: RunningTarget, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["load", fast_target.url, "--rate", "50", "--duration", "1s", "--no-live"]
    assert main([*argv, "--json"]) == 0
    s = json.loads(capsys.readouterr().out)  # nothing but the document: a table would break it
    assert set(s) == SUMMARY_KEYS and s["completed"] == 50


@pytest.mark.timeout(60)
def test_users_run_with_header_and_post(
    fast_target: RunningTarget, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "s.json"
    argv = ["load", fast_target.url, "--users", "3", "--duration", "1s", "-H", "X-Test: 1"]
    code = main([*argv, "--method", "post", "--body", "{}", "-o", str(out)])
    assert code == 0
    s = json.loads(out.read_text())
    assert s["model"] == "closed" and s["completed"] > 50 and s["errors"] == {}


@pytest.mark.timeout(60)
def test_several_urls_are_figured_per_request_and_checks_fail_as_errors(
    fast_target: RunningTarget, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "s.json"
    urls = [fast_target.url + "home", fast_target.url + "status/404"]
    argv = ["load", *urls, "--rate", "100", "--duration", "1s", "-o", str(out)]
    code = main([*argv, "--expect-status", "200-299", "--expect-body", "ok"])
    assert code == 0
    printed = capsys.readouterr().out
    s = json.loads(out.read_text())
    home, gone = s["requests"]["GET /home"], s["requests"]["GET /status/404"]
    assert home["errors"] == {} and home["ok"] == home["completed"] > 0
    assert gone["errors"] == {"check:status": gone["completed"]} and gone["ok"] == 0
    assert home["completed"] + gone["completed"] == s["completed"] == 100
    assert s["errors"] == {"check:status": gone["completed"]}
    assert "per request" in printed and "GET /status/404" in printed and "check:status" in printed


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["load", "htp:/nowhere", "--rate", "5"], "malformed URL"),
        (["load", "http://127.0.0.1:9/", "--rate", "-5"], "cannot be negative"),
        (["load", "http://127.0.0.1:9/", "--rate", "5", "-H", "NoColon"], "has no colon"),
        (["load", "http://example.com/", "--rate", "5"], "--allow example.com"),
        (["load", "http://127.0.0.1:9/", "--rate", "5", "--users", "2"], "exclude each other"),
        (["load", "http://127.0.0.1:9/", "--stages", "100:10s,oops"], "bad stage"),
        (["load", "http://127.0.0.1:9/"], "no load given"),
        (["load", "http://127.0.0.1:9/", "--rate", "nan"], "finite number"),
        (["load", "http://127.0.0.1:9/", "--rate", "inf"], "finite number"),
        (["load", "http://127.0.0.1:9/", "--rate", "5", "--method", "HEAD"], "not supported"),
        (["load", "http://127.0.0.1:9/", "--rate", "5", "--method", "GE T"], "valid HTTP method"),
        (["load", "http://127.0.0.1:9/", "--rate", "5", "-H", "A B: 1"], "header name"),
        (["load", "http://127.0.0.1:9/", "--rate", "5", "-o", "/nonexistent/s.json"], "folder"),
        (["load", "http://127.0.0.1:9/", "--rate", "5", "--expect-status", "2xx"], "status code"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_unreachable_target(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["load", closed_port_url(), "--rate", "5", "--duration", "1s"]) == 2
    assert "cannot connect" in capsys.readouterr().err


def test_parse_stages() -> None:
    assert parse_stages("100:10s, >600:20s,600:1m") == (
        Stage(10.0, 100.0),
        Stage(20.0, None, 600.0),
        Stage(60.0, 600.0),
    )
    with pytest.raises(UserError):
        parse_stages("100")


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_ctrl_c_still_prints_and_writes(fast_target: RunningTarget, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "s.json"
    # Ctrl-C as on a terminal: full suite runs under load saw the child ignore SIGINT and
    # run its whole 60 s, so the child starts with SIGINT at Python's default and unblocked
    # whatever it inherited, and a failure reports the test process's SIGINT state.
    # -X faulthandler: if it ever hangs after Ctrl-C, SIGABRT below prints every thread.
    terminal_like = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT}); "
        "from loadtrial.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    inherited = _sigint_state()
    argv = [sys.executable, "-X", "faulthandler", "-c", terminal_like, "load", fast_target.url]
    with subprocess.Popen(
        [*argv, "--rate", "50", "--duration", "60s", "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        _wait_until_connected(proc.pid, fast_target.port, time.monotonic() + 60)
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        try:
            stdout, stderr = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            stdout, stderr = proc.communicate(timeout=30)
            raise AssertionError(f"no exit 60 s after Ctrl-C; its threads:\n{stderr}") from None
    assert proc.returncode == 3, f"{stderr}\nSIGINT in the test process: {inherited}"
    assert "interrupted" in stdout
    s = json.loads(out.read_text())
    assert s["completed"] >= 25 and s["duration_s"] < 30


def _sigint_state() -> str:
    """Whether this process ignores or blocks SIGINT (children inherit both)."""
    with open("/proc/self/status", encoding="ascii") as status:
        fields = dict(line.split(":", 1) for line in status if ":" in line)
    bit = 1 << 1  # SIGINT is signal 2
    ignored, blocked = (int(fields[k].strip(), 16) & bit for k in ("SigIgn", "SigBlk"))
    return f"ignored={bool(ignored)} blocked={bool(blocked)}"


def _wait_until_connected(pid: int, port: int, deadline: float) -> None:
    """Wait until process `pid` holds a connection to `port` in two polls 0.3 s apart: the
    load has started (the one-off reachability check before it opens and closes at once)."""
    import time

    import psutil

    proc = psutil.Process(pid)
    seen = 0
    while time.monotonic() < deadline:
        connected = any(c.raddr and c.raddr.port == port for c in proc.net_connections("tcp"))
        seen = seen + 1 if connected else 0
        if seen == 2:
            return
        time.sleep(0.3)
    raise AssertionError("the load never connected to the target")


@pytest.mark.timeout(60)
def test_a_templated_url_is_rendered_on_each_send(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    with running_shop() as shop:
        url = shop.url + "item/{{random_int(1, 5)}}?u={{uuid}}&s={{seq}}"
        code = main(["load", url, "--rate", "20", "--duration", "1s", "-o", str(out)])
    assert code == 0 and json.loads(out.read_text())["completed"] == 20
    assert {p.split("?")[0] for p in shop.paths} <= {f"/item/{i}" for i in range(1, 6)}
    assert sorted(int(p.rsplit("=", 1)[1]) for p in shop.paths) == list(range(1, 21))
    assert len({p.split("u=")[1] for p in shop.paths}) == 20
