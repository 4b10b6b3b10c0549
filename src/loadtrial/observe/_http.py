"""A small blocking HTTP GET for the scraping observers (prometheus, http-json).

In: a URL, a timeout, optional headers. Out: the body as bytes. Any failure (refused,
timeout, non-2xx) raises ObserverError with one line saying what happened, so the sampler
records a gap and an event.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping

from loadtrial.errors import ObserverError

MAX_BODY_BYTES = 16 * 1024 * 1024


def fetch(url: str, timeout_s: float, headers: Mapping[str, str] | None = None) -> bytes:
    """Return the body of a GET to `url`; raise ObserverError on any failure."""
    request = urllib.request.Request(url, headers=dict(headers or {}), method="GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            body: bytes = response.read(MAX_BODY_BYTES)
            return body
    except urllib.error.HTTPError as exc:
        raise ObserverError(f"GET {url} answered HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        raise ObserverError(f"GET {url} failed: {exc.reason}") from None
    except (OSError, ValueError) as exc:
        raise ObserverError(f"GET {url} failed: {exc}") from None


def is_http_url(value: object) -> str:
    """Return "" for an http(s) URL, else what is wrong (for `problems`)."""
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        return ""
    return "expected an http:// or https:// URL"
