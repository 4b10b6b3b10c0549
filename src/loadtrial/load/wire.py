"""What goes on the wire: the origin, pre-encoded requests, the weighted mix, TLS context.

In: a LoadPlan's RequestSpecs (absolute URLs, encoded bodies) and TLS options.
Out: an `Origin` (scheme, host, port), one bytes payload per request (built once, written
as is for every send), a weighted index sequence for the mix, and an SSLContext for HTTPS.
Malformed or mixed-origin URLs raise TargetError before a packet is sent.
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np

from loadtrial import __version__
from loadtrial.errors import TargetError
from loadtrial.load.model import LoadPlan, RequestSpec

MIX_LENGTH = 1 << 14  # the weighted mix repeats every this many requests
# What a request line may carry as is (RFC 3986 pchar, "/" and "?"): anything else, and a
# "%" that does not start an escape, is percent-encoded as UTF-8 bytes; escapes already
# written ("%20") are kept, so encoding twice changes nothing.
_NOT_IN_LINE = re.compile(r"%(?![0-9A-Fa-f]{2})|[^A-Za-z0-9\-._~!$&'()*+,;=:@/?%]+")


def _escape(match: re.Match[str]) -> str:
    return "".join(f"%{b:02X}" for b in match.group().encode("utf-8"))


def percent_encode(target: str) -> str:
    """Return a path (with its query) safe for the request line: spaces, non-ASCII and
    other characters outside RFC 3986 percent-encoded; existing escapes unchanged."""
    return _NOT_IN_LINE.sub(_escape, target)


@dataclass(frozen=True)
class Origin:
    """scheme://host:port of every request of a plan."""

    scheme: str
    host: str
    port: int

    @property
    def host_header(self) -> str:
        """The Host header value (the port only when not the scheme's default)."""
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def parse_origin(url: str) -> tuple[Origin, str]:
    """Return (origin, percent-encoded path with query) of an absolute http(s) URL;
    TargetError if bad."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        hint = "write e.g. http://127.0.0.1:8080/"
        raise TargetError(f"malformed URL {url!r}: {exc}", hint) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetError(f"malformed URL {url!r}", "write e.g. http://127.0.0.1:8080/path")
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Origin(parts.scheme, parts.hostname, port), percent_encode(path)


def plan_origin(plan: LoadPlan) -> Origin:
    """Return the single origin of a plan's requests (TargetError when they differ)."""
    origins = {parse_origin(r.url)[0] for r in plan.requests}
    if len(origins) != 1:
        raise TargetError(
            "all requests of a load must share one origin (scheme://host:port)",
            "run one load per origin",
        )
    return origins.pop()


def encode_request(spec: RequestSpec, origin: Origin) -> bytes:
    """Return the full HTTP/1.1 request bytes for one RequestSpec."""
    _, path = parse_origin(spec.url)
    names = {k.lower() for k, _ in spec.headers}
    lines = [f"{spec.method.upper()} {path} HTTP/1.1"]
    if "host" not in names:
        lines.append(f"Host: {origin.host_header}")
    if "user-agent" not in names:
        lines.append(f"User-Agent: loadtrial/{__version__}")
    lines.extend(f"{k}: {v}" for k, v in spec.headers)
    has_body = spec.body or spec.method.upper() in ("POST", "PUT", "PATCH")
    if has_body and "content-length" not in names:
        lines.append(f"Content-Length: {len(spec.body)}")
    head = "\r\n".join(lines) + "\r\n\r\n"
    return head.encode("latin-1") + spec.body


def mix_sequence(weights: list[int], seed: int = 0) -> list[int]:
    """Return MIX_LENGTH request indexes drawn by weight (shuffled, seeded)."""
    if len(weights) == 1:
        return [0]
    w = np.asarray(weights, dtype=np.float64)
    rng = np.random.default_rng(seed)
    return [int(i) for i in rng.choice(len(weights), size=MIX_LENGTH, p=w / w.sum())]


def ssl_context(plan: LoadPlan, origin: Origin) -> ssl.SSLContext | None:
    """Return the client TLS context for https, None for http."""
    if origin.scheme != "https":
        return None
    ctx = ssl.create_default_context(cafile=plan.ca_file or None)
    if not plan.tls_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx
