"""Which hosts loadtrial may send load to: this machine, or what the user allowed by name.

In: a URL's host and the allow-list (`target.allow`, `--allow`). Out: "" when load may be
sent, else the reason in words. The rule is by *address*, not by spelling: the host is
resolved and every address it resolves to must be a loopback address (127.0.0.0/8, ::1),
unless the host itself or each of its addresses is on the allow-list. So
`127.evil.example` (a name that merely starts like a loopback address) is refused, and
`localhost` or `127.0.0.2` are allowed. The CLI, the trial's validation and the load
engine all ask this one function, the engine last, right before it connects.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence

Resolver = Callable[[str], list[str]]


def resolve(host: str) -> list[str]:
    """Every address `host` resolves to (empty when it does not resolve)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    return sorted({str(info[4][0]).split("%", 1)[0] for info in infos})


def _is_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1 is loopback too
    return bool(ip.is_loopback or (mapped is not None and mapped.is_loopback))


def refusal(host: str, allow: Sequence[str], resolver: Resolver = resolve) -> str:
    """Why load may not go to `host` ("" when it may); see the module docstring."""
    name = host.strip("[]").lower()
    allowed = {a.strip("[]").lower() for a in allow}
    if not name:
        return "the URL has no host"
    if name in allowed:
        return ""
    addresses = resolver(name)
    if not addresses:
        return f"{host} does not resolve to an address"
    foreign = [a for a in addresses if not _is_loopback(a) and a not in allowed]
    if not foreign:
        return ""
    if foreign == [name]:  # an address, not a name
        return f"{host} is not this machine"
    return f"{host} resolves to {', '.join(foreign)}, which is not this machine"
