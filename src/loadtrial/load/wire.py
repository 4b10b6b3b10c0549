"""What goes on the wire: the origin, pre-encoded requests, the weighted mix, TLS context.

In: a LoadPlan's RequestSpecs (absolute URLs, encoded bodies) and TLS options.
Out: an `Origin` (scheme, host, port), one bytes payload per request (built once, written
as is for every send), a weighted index sequence for the mix, and an SSLContext for HTTPS.
Malformed or mixed-origin URLs raise TargetError before a packet is sent.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import overload
from urllib.parse import urlsplit

import numpy as np

from loadtrial import __version__
from loadtrial.errors import TargetError
from loadtrial.load.model import LoadPlan, RequestSpec
from loadtrial.load.template import Context, Sources, Template, compile_template, has_template

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


def request_templates(spec: RequestSpec) -> list[str]:
    """The texts of a request that may hold `{{...}}` slots: URL, header values, body."""
    return [spec.url, *(v for _, v in spec.headers), spec.body.decode("utf-8", "replace")]


def is_templated(spec: RequestSpec) -> bool:
    """Whether a request has a `{{...}}` slot (else its bytes are built once)."""
    return any(has_template(t) for t in request_templates(spec))


@dataclass(frozen=True)
class RequestTemplate:
    """A request with slots, compiled once: each send renders path, headers and body.

    The head's fixed lines (Host, User-Agent, untemplated headers) are joined once; a
    render joins them with the rendered request line, headers and Content-Length.
    """

    method: str
    path: Template  # path and query (after the origin), percent-encoded after rendering
    fixed_head: str  # "\r\n"-terminated header lines without slots
    headers: tuple[tuple[str, Template], ...]
    body: Template
    has_body: bool

    def render(self, ctx: Context, extra_head: str = "") -> bytes:
        """Return the request bytes for one send (`extra_head`: more header lines, each
        ending in CRLF, e.g. a flow user's Cookie)."""
        lines = [f"{self.method} {percent_encode(self.path.render(ctx))} HTTP/1.1\r\n"]
        lines.append(self.fixed_head)
        lines.append(extra_head)
        for name, value in self.headers:
            lines.append(f"{name}: {value.render(ctx)}\r\n")
        body = self.body.render(ctx).encode("utf-8") if self.has_body else b""
        if self.has_body:
            lines.append(f"Content-Length: {len(body)}\r\n")
        lines.append("\r\n")
        return "".join(lines).encode("latin-1", "replace") + body


def compile_request(
    spec: RequestSpec, origin: Origin, data_sets: frozenset[str] = frozenset()
) -> RequestTemplate:
    """Compile a templated request (ValueError naming a bad slot); the origin must be
    plain, slots go in the path, query, header values and body."""
    split = urlsplit(spec.url)
    target = spec.url[len(f"{split.scheme}://{split.netloc}") :] or "/"
    names = {k.lower() for k, _ in spec.headers}
    fixed: list[str] = []
    if "host" not in names:
        fixed.append(f"Host: {origin.host_header}\r\n")
    if "user-agent" not in names:
        fixed.append(f"User-Agent: loadtrial/{__version__}\r\n")
    slotted: list[tuple[str, Template]] = []
    for k, v in spec.headers:
        if has_template(v):
            slotted.append((k, compile_template(v, data_sets)))
        elif k.lower() != "content-length":
            fixed.append(f"{k}: {v}\r\n")
    method = spec.method.upper()
    # a JSON body (`json:` in the trial) holds its slots inside JSON strings
    json_body = any(k.lower() == "content-type" and "json" in v.lower() for k, v in spec.headers)
    return RequestTemplate(
        method=method,
        path=compile_template(target, data_sets),
        fixed_head="".join(fixed),
        headers=tuple(slotted),
        body=compile_template(spec.body.decode("utf-8"), data_sets, json_string=json_body),
        has_body=bool(spec.body) or method in ("POST", "PUT", "PATCH"),
    )


class Payloads(Sequence[bytes]):
    """The client's payloads when some request has slots: `payloads[i]` renders request
    i afresh (a new context: its own data rows), else returns its pre-built bytes. A plan
    without slots keeps a plain list, so its hot path is unchanged."""

    def __init__(
        self, built: list[bytes], templates: list[RequestTemplate | None], sources: Sources
    ) -> None:
        self.built, self.templates, self.sources = built, templates, sources

    @overload
    def __getitem__(self, i: int) -> bytes: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[bytes]: ...
    def __getitem__(self, i: int | slice) -> bytes | Sequence[bytes]:
        if isinstance(i, slice):
            return [self[j] for j in range(len(self.built))[i]]
        tpl = self.templates[i]
        return self.built[i] if tpl is None else tpl.render(Context(self.sources))

    def __len__(self) -> int:
        return len(self.built)
