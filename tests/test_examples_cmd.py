"""`loadtrial examples`: the example trials ship inside the package, list and copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtrial.cli import main
from loadtrial.spec import load_trial_file


def test_examples_are_listed_and_copied_without_overwriting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["examples"]) == 0
    listed = capsys.readouterr().out
    assert "quick-shell.yaml" in listed and "db-bottleneck.yaml" in listed
    (tmp_path / "quick-shell.yaml").write_text("mine")
    assert main(["examples", "--copy", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"kept {tmp_path / 'quick-shell.yaml'}" in out
    assert (tmp_path / "quick-shell.yaml").read_text() == "mine"  # never overwritten
    copied = load_trial_file(tmp_path / "db-bottleneck.yaml").trial
    assert copied.name == "db-bottleneck"


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    from loadtrial import __version__

    assert main(["--version"]) == 0 and capsys.readouterr().out.strip() == __version__


def test_an_unexpected_error_is_one_line_and_exit_4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import loadtrial.commands.examples as ex

    def boom(_: Path) -> None:
        raise RuntimeError("planted")

    monkeypatch.setattr(ex, "copy_examples", boom)
    assert main(["examples", "--copy", str(tmp_path)]) == 4
    err = capsys.readouterr().err
    assert err.strip() == (
        "loadtrial: internal error: RuntimeError: planted; "
        "`loadtrial --debug ...` shows the traceback"
    )
    assert main(["--debug", "examples", "--copy", str(tmp_path)]) == 4
    assert "Traceback" in capsys.readouterr().err


def test_the_store_can_be_named_by_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from loadtrial.store import Store

    db = tmp_path / "elsewhere.db"
    with Store(db) as store:
        store.create_trial(name="named-by-env")
    monkeypatch.setenv("LOADTRIAL_STORE", str(db))
    assert main(["ls"]) == 0 and "named-by-env" in capsys.readouterr().out
    main(["analyze"])  # reads the same store (its one trial has no file text to analyse)
    err = capsys.readouterr().err
    assert err and "no results store" not in err, err
