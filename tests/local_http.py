"""The tests' own HTTP targets: a threaded server with a listen backlog fit for load.

In: an address and a handler class (as `ThreadingHTTPServer`). Out: the server. socketserver
listens with a backlog of 5: a burst of new connections from the load engine overflows it
while the accepting thread waits for the GIL or a core, and the kernel's SYN-ACK retries
(1 s, then 2 s, 4 s) turn into seconds of latency a test did not ask for. The
instrument should not be the slowest part of what it measures.
"""

from __future__ import annotations

from http.server import ThreadingHTTPServer


class LocalHTTPServer(ThreadingHTTPServer):
    """`ThreadingHTTPServer` listening with a backlog of 1024, its threads daemonic."""

    request_queue_size = 1024
    daemon_threads = True
