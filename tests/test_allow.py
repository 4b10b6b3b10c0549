"""The allow rule is by address: hostile names that only look local are refused, before a
packet is sent, by the CLI, the trial's validation and the engine alike."""

from __future__ import annotations

import pytest

from loadtrial.allow import refusal
from loadtrial.cli import main

HOSTILE = {  # what a hostile (or mistaken) DNS would answer; TEST-NET addresses only
    "127.evil.example": ["203.0.113.7"],
    "localhost.evil.example": ["203.0.113.8"],
    "mixed.example": ["127.0.0.1", "203.0.113.9"],  # one foreign address is enough
}


def _fake(host: str) -> list[str]:
    return HOSTILE.get(host, [])


@pytest.mark.parametrize("host", sorted(HOSTILE))
def test_names_that_resolve_elsewhere_are_refused(host: str) -> None:
    why = refusal(host, ["127.0.0.1", "localhost", "::1"], resolver=_fake)
    assert "203.0.113." in why and "not this machine" in why


@pytest.mark.parametrize(
    "host", ["localhost", "127.0.0.1", "127.0.0.2", "::1", "[::1]", "::ffff:127.0.0.1"]
)
def test_this_machine_by_any_spelling_is_allowed(host: str) -> None:
    assert refusal(host, []) == ""  # resolved for real: loopback addresses only


def test_an_explicitly_allowed_host_or_address_passes() -> None:
    assert refusal("127.evil.example", ["127.evil.example"], resolver=_fake) == ""
    assert refusal("mixed.example", ["203.0.113.9"], resolver=_fake) == ""


def test_unresolvable_and_empty_hosts_are_refused() -> None:
    assert "does not resolve" in refusal("nowhere.invalid", [], resolver=_fake)
    assert refusal("", []) == "the URL has no host"
    assert "10.1.2.3" in refusal("10.1.2.3", ["127.0.0.1"])  # a private address is not local


def test_the_cli_refuses_a_name_that_only_starts_like_loopback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # `127.evil.example` passed the first version's startswith("127.") check
    code = main(["load", "http://127.evil.example:9/", "--rate", "1", "--duration", "1s"])
    err = capsys.readouterr().err
    assert code == 2 and "refusing to send load" in err and "Traceback" not in err
